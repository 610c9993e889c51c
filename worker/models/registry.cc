#include "worker/models/registry.h"

#include <sstream>
#include <stdexcept>

#include "worker/models/airnet.h"
#include "worker/models/airnext.h"
#include "worker/models/alexnet.h"
#include "worker/models/bagnet.h"
#include "worker/models/bayesian_net.h"
#include "worker/models/convnext.h"
#include "worker/models/darknet.h"
#include "worker/models/densenet.h"
#include "worker/models/diffuser.h"
#include "worker/models/dpn.h"
#include "worker/models/efficientnet.h"
#include "worker/models/fractalnet.h"
#include "worker/models/googlenet.h"
#include "worker/models/icnet.h"
#include "worker/models/lemur/families.h"
#include "worker/models/inception_v3.h"
#include "worker/models/maxvit.h"
#include "worker/models/mnasnet.h"
#include "worker/models/mobilenet_v2.h"
#include "worker/models/mobilenet_v3.h"
#include "worker/models/regnet.h"
#include "worker/models/resnet.h"
#include "worker/models/shufflenet.h"
#include "worker/models/squeezenet.h"
#include "worker/models/swin_transformer.h"
#include "worker/models/unet2d.h"
#include "worker/models/vgg.h"
#include "worker/models/vision_transformer.h"

namespace moe4::worker {
namespace {

template <typename Holder>
ExpertFactory Factory() {
  return [](const ExpertOptions& options) { return torch::nn::AnyModule(Holder(options)); };
}

}  // namespace

void FamilyRegistry::Register(Catalogue catalogue, const std::string& id, ExpertFactory factory) {
  if (!factories_.emplace(std::make_pair(catalogue, id), std::move(factory)).second) {
    throw std::invalid_argument("family '" + id + "' is registered twice in the " +
                                std::string(CatalogueName(catalogue)) + " catalogue");
  }
}

bool FamilyRegistry::Contains(Catalogue catalogue, const std::string& id) const {
  return factories_.count(std::make_pair(catalogue, id)) > 0;
}

torch::nn::AnyModule FamilyRegistry::Create(const std::string& id, const ExpertOptions& options) const {
  auto it = factories_.find(std::make_pair(options.catalogue, id));
  if (it == factories_.end()) {
    std::ostringstream known;
    for (const auto& name : Ids(options.catalogue)) known << " " << name;
    throw std::invalid_argument("unknown family '" + id + "' in the " +
                                std::string(CatalogueName(options.catalogue)) +
                                " catalogue (this worker implements:" + known.str() + ")");
  }
  if (options.in_channels < 1 || options.in_channels > 64) {
    throw std::invalid_argument("in_channels must be in [1, 64], got " + std::to_string(options.in_channels));
  }
  if (options.image_size < 8 || options.image_size > 1024) {
    throw std::invalid_argument("image_size must be in [8, 1024], got " + std::to_string(options.image_size));
  }
  if (options.num_classes < 2 || options.num_classes > 100000) {
    throw std::invalid_argument("num_classes must be in [2, 100000], got " + std::to_string(options.num_classes));
  }
  if (!(options.width > 0.0 && options.width <= 4.0)) {
    throw std::invalid_argument("width must be in (0, 4], got " + std::to_string(options.width));
  }
  return it->second(options);
}

std::vector<std::string> FamilyRegistry::Ids(Catalogue catalogue) const {
  std::vector<std::string> ids;
  for (const auto& [key, unused] : factories_) {
    if (key.first == catalogue) ids.push_back(key.second);
  }
  return ids;
}

void RegisterBuiltinFamilies(FamilyRegistry& registry) {
  registry.Register("AirNet", Factory<AirNet>());
  registry.Register("AirNext", Factory<AirNext>());
  registry.Register("AlexNet", Factory<AlexNet>());
  registry.Register("BagNet", Factory<BagNet>());
  registry.Register("BayesianNet-1", Factory<BayesianNet>());
  registry.Register("ConvNeXt", Factory<ConvNeXt>());
  registry.Register("DPN107", [](const ExpertOptions& o) { return torch::nn::AnyModule(DPN(o, kDpn107)); });
  registry.Register("DPN131", [](const ExpertOptions& o) { return torch::nn::AnyModule(DPN(o, kDpn131)); });
  registry.Register("DPN68", [](const ExpertOptions& o) { return torch::nn::AnyModule(DPN(o, kDpn68)); });
  registry.Register("DarkNet", Factory<DarkNet>());
  registry.Register("DenseNet", Factory<DenseNet>());
  registry.Register("Diffuser", Factory<Diffuser>());
  registry.Register("EfficientNet", Factory<EfficientNet>());
  registry.Register("FractalNet", Factory<FractalNet>());
  registry.Register("GoogLeNet", Factory<GoogLeNet>());
  registry.Register("ICNet", Factory<ICNet>());
  registry.Register("InceptionV3-1", Factory<InceptionV3>());
  registry.Register("MNASNet", Factory<MNASNet>());
  registry.Register("MaxVit", Factory<MaxVit>());
  registry.Register("MobileNetV2", Factory<MobileNetV2>());
  registry.Register("MobileNetV3", Factory<MobileNetV3>());
  registry.Register("RegNet", Factory<RegNet>());
  registry.Register("ResNet", Factory<ResNet>());
  registry.Register("ShuffleNet", Factory<ShuffleNet>());
  registry.Register("SqueezeNet-1", Factory<SqueezeNet>());
  registry.Register("SwinTransformer", Factory<SwinTransformer>());
  registry.Register("UNet2D", Factory<UNet2D>());
  registry.Register("VGG", Factory<VGG>());
  registry.Register("VisionTransformer", Factory<VisionTransformer>());
  for (const auto& family : lemur::LemurFamilies()) registry.Register(Catalogue::kLemur, family.id, family.build);
}

const FamilyRegistry& BuiltinRegistry() {
  static const FamilyRegistry* registry = [] {
    auto* r = new FamilyRegistry();
    RegisterBuiltinFamilies(*r);
    return r;
  }();
  return *registry;
}

}  // namespace moe4::worker
