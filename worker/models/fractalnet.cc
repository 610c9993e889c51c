#include "worker/models/fractalnet.h"

namespace moe4::worker {

FractalPathImpl::FractalPathImpl(int in, int out, int columns, double drop_path) : drop_path_(drop_path) {
  shallow_ = register_module("shallow", ConvBnAct(in, out, 3));
  if (columns > 1) {
    deep_first_ = register_module("deep_first", std::make_shared<FractalPathImpl>(in, out, columns - 1, drop_path));
    deep_second_ = register_module("deep_second", std::make_shared<FractalPathImpl>(out, out, columns - 1, drop_path));
  }
}

torch::Tensor FractalPathImpl::forward(const torch::Tensor& x) {
  auto shallow = shallow_->forward(x);
  if (!deep_first_) return shallow;
  auto deep = deep_second_->forward(deep_first_->forward(x));
  if (!is_training() || drop_path_ <= 0) return (shallow + deep) / 2;
  // Local drop-path over the two joined inputs; never drop both.
  auto keep = torch::rand({2}) >= drop_path_;
  if (!keep.any().item<bool>()) keep[torch::randint(0, 2, {1}).item<int64_t>()] = true;
  const bool keep_shallow = keep[0].item<bool>();
  const bool keep_deep = keep[1].item<bool>();
  if (keep_shallow && keep_deep) return (shallow + deep) / 2;
  return keep_shallow ? shallow : deep;
}

FractalNetImpl::FractalNetImpl(const ExpertOptions& options) {
  // Reference events: the four pools between the five blocks.
  DownsamplePlan plan(options.image_size, 4);
  const int kWidths[] = {64, 128, 256, 512, 512};
  features_ = register_module("features", torch::nn::Sequential());
  int in = options.in_channels;
  for (int block = 0; block < 5; ++block) {
    const int out = ScaleChannels(kWidths[block], options.width);
    features_->push_back(FractalPath(in, out, 3, 0.15));
    if (block < 4 && plan.Next()) {
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
    }
    in = out;
  }
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor FractalNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker
