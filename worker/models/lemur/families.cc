#include "worker/models/lemur/families.h"

#include "worker/models/lemur/airnet.h"
#include "worker/models/lemur/airnext.h"
#include "worker/models/lemur/alexnet.h"
#include "worker/models/lemur/bagnet.h"
#include "worker/models/lemur/bayesian_net.h"
#include "worker/models/lemur/convnext.h"
#include "worker/models/lemur/darknet.h"
#include "worker/models/lemur/densenet.h"
#include "worker/models/lemur/diffuser.h"
#include "worker/models/lemur/dpn.h"
#include "worker/models/lemur/efficientnet.h"
#include "worker/models/lemur/fractalnet.h"
#include "worker/models/lemur/googlenet.h"
#include "worker/models/lemur/icnet.h"
#include "worker/models/lemur/inception_v3.h"
#include "worker/models/lemur/maxvit.h"
#include "worker/models/lemur/mnasnet.h"
#include "worker/models/lemur/mobilenet_v2.h"
#include "worker/models/lemur/mobilenet_v3.h"
#include "worker/models/lemur/regnet.h"
#include "worker/models/lemur/resnet.h"
#include "worker/models/lemur/shufflenet.h"
#include "worker/models/lemur/squeezenet.h"
#include "worker/models/lemur/swin_transformer.h"
#include "worker/models/lemur/unet2d.h"
#include "worker/models/lemur/vgg.h"
#include "worker/models/lemur/vision_transformer.h"

namespace moe4::worker::lemur {
namespace {

template <typename Holder>
std::function<torch::nn::AnyModule(const ExpertOptions&)> Build() {
  return [](const ExpertOptions& options) { return torch::nn::AnyModule(Holder(options)); };
}

}  // namespace

const std::vector<LemurFamily>& LemurFamilies() {
  static const std::vector<LemurFamily>* families = new std::vector<LemurFamily>{
      {"AirNet", Build<AirNet>()},
      {"AirNext", Build<AirNext>()},
      {"AlexNet", Build<AlexNet>()},
      {"BagNet", Build<BagNet>()},
      {"BayesianNet-1", Build<BayesianNet>()},
      {"ConvNeXt", Build<ConvNeXt>()},
      {"DPN107", Build<Dpn107>()},
      {"DPN131", Build<Dpn131>()},
      {"DPN68", Build<Dpn68>()},
      {"DarkNet", Build<DarkNet>()},
      {"DenseNet", Build<DenseNet>()},
      {"Diffuser", Build<Diffuser>()},
      {"EfficientNet", Build<EfficientNet>()},
      {"FractalNet", Build<FractalNet>()},
      {"GoogLeNet", Build<GoogLeNet>()},
      {"ICNet", Build<ICNet>()},
      {"InceptionV3-1", Build<InceptionV3>()},
      {"MNASNet", Build<MNASNet>()},
      {"MaxVit", Build<MaxVit>()},
      {"MobileNetV2", Build<MobileNetV2>()},
      {"MobileNetV3", Build<MobileNetV3>()},
      {"RegNet", Build<RegNet>()},
      {"ResNet", Build<ResNet>()},
      {"ShuffleNet", Build<ShuffleNet>()},
      {"SqueezeNet-1", Build<SqueezeNet>()},
      {"SwinTransformer", Build<SwinTransformer>()},
      {"UNet2D", Build<UNet2D>()},
      {"VGG", Build<VGG>()},
      {"VisionTransformer", Build<VisionTransformer>()},
  };
  return *families;
}

}  // namespace moe4::worker::lemur
