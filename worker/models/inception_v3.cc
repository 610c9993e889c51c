#include "worker/models/inception_v3.h"

#include <string>

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

using torch::nn::Sequential;

torch::nn::MaxPool2d MaxPool(int stride) {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(stride).padding(1));
}

torch::nn::AvgPool2d AvgPool() {
  return torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(3).stride(1).padding(1).count_include_pad(false));
}

// Builders for the five module types; `c` scales a reference width.
struct Builder {
  double width;
  int c(int reference) const { return ScaleChannels(reference, width); }

  // 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg-pool -> 1x1.
  InceptionV3Module A(int in, int pool_features) const {
    InceptionV3Module m;
    m->AddBranch(Sequential(InceptionV3Conv(in, c(64), 1, 1)), c(64));
    m->AddBranch(Sequential(InceptionV3Conv(in, c(48), 1, 1), InceptionV3Conv(c(48), c(64), 5, 5)), c(64));
    m->AddBranch(Sequential(InceptionV3Conv(in, c(64), 1, 1), InceptionV3Conv(c(64), c(96), 3, 3), InceptionV3Conv(c(96), c(96), 3, 3)), c(96));
    m->AddBranch(Sequential(AvgPool(), InceptionV3Conv(in, c(pool_features), 1, 1)), c(pool_features));
    return m;
  }

  // Grid reduction: 3x3 /2 | 1x1 -> 3x3 -> 3x3 /2 | max-pool /2.
  InceptionV3Module B(int in, int stride) const {
    InceptionV3Module m;
    m->AddBranch(Sequential(InceptionV3Conv(in, c(384), 3, 3, stride)), c(384));
    m->AddBranch(Sequential(InceptionV3Conv(in, c(64), 1, 1), InceptionV3Conv(c(64), c(96), 3, 3), InceptionV3Conv(c(96), c(96), 3, 3, stride)),
                 c(96));
    m->AddBranch(Sequential(MaxPool(stride)), in);
    return m;
  }

  // Factorised 7x7: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | avg-pool -> 1x1.
  InceptionV3Module C(int in, int c7_reference) const {
    const int c7 = c(c7_reference);
    InceptionV3Module m;
    m->AddBranch(Sequential(InceptionV3Conv(in, c(192), 1, 1)), c(192));
    m->AddBranch(Sequential(InceptionV3Conv(in, c7, 1, 1), InceptionV3Conv(c7, c7, 1, 7), InceptionV3Conv(c7, c(192), 7, 1)), c(192));
    m->AddBranch(Sequential(InceptionV3Conv(in, c7, 1, 1), InceptionV3Conv(c7, c7, 7, 1), InceptionV3Conv(c7, c7, 1, 7), InceptionV3Conv(c7, c7, 7, 1),
                            InceptionV3Conv(c7, c(192), 1, 7)),
                 c(192));
    m->AddBranch(Sequential(AvgPool(), InceptionV3Conv(in, c(192), 1, 1)), c(192));
    return m;
  }

  // Grid reduction: 1x1 -> 3x3 /2 | 1x1 -> 1x7 -> 7x1 -> 3x3 /2 | max-pool /2.
  InceptionV3Module D(int in, int stride) const {
    InceptionV3Module m;
    m->AddBranch(Sequential(InceptionV3Conv(in, c(192), 1, 1), InceptionV3Conv(c(192), c(320), 3, 3, stride)), c(320));
    m->AddBranch(Sequential(InceptionV3Conv(in, c(192), 1, 1), InceptionV3Conv(c(192), c(192), 1, 7), InceptionV3Conv(c(192), c(192), 7, 1),
                            InceptionV3Conv(c(192), c(192), 3, 3, stride)),
                 c(192));
    m->AddBranch(Sequential(MaxPool(stride)), in);
    return m;
  }

  // Expanded filter bank: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | avg-pool -> 1x1.
  InceptionV3Module E(int in) const {
    InceptionV3Module m;
    m->AddBranch(Sequential(InceptionV3Conv(in, c(320), 1, 1)), c(320));
    m->AddBranch(Sequential(InceptionV3Conv(in, c(384), 1, 1)), 2 * c(384),
                 {InceptionV3Conv(c(384), c(384), 1, 3), InceptionV3Conv(c(384), c(384), 3, 1)});
    m->AddBranch(Sequential(InceptionV3Conv(in, c(448), 1, 1), InceptionV3Conv(c(448), c(384), 3, 3)), 2 * c(384),
                 {InceptionV3Conv(c(384), c(384), 1, 3), InceptionV3Conv(c(384), c(384), 3, 1)});
    m->AddBranch(Sequential(AvgPool(), InceptionV3Conv(in, c(192), 1, 1)), c(192));
    return m;
  }
};

}  // namespace

InceptionV3ConvImpl::InceptionV3ConvImpl(int in, int out, int kh, int kw, int stride) {
  conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, {kh, kw})
                                                        .stride(stride)
                                                        .padding({kh / 2, kw / 2})
                                                        .bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(out).eps(1e-3)));
}

torch::Tensor InceptionV3ConvImpl::forward(const torch::Tensor& x) { return torch::relu(bn_->forward(conv_->forward(x))); }

void InceptionV3ModuleImpl::AddBranch(torch::nn::Sequential trunk, int out_channels, std::vector<InceptionV3Conv> fork) {
  const std::string name = "branch" + std::to_string(trunks_.size());
  trunks_.push_back(register_module(name, trunk));
  for (size_t i = 0; i < fork.size(); ++i) register_module(name + "_fork" + std::to_string(i), fork[i]);
  forks_.push_back(std::move(fork));
  out_channels_ += out_channels;
}

torch::Tensor InceptionV3ModuleImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> outputs;
  for (size_t i = 0; i < trunks_.size(); ++i) {
    auto y = trunks_[i]->forward(x);
    if (forks_[i].empty()) {
      outputs.push_back(y);
    } else {
      for (auto& conv : forks_[i]) outputs.push_back(conv->forward(y));
    }
  }
  return torch::cat(outputs, 1);
}

InceptionV3Impl::InceptionV3Impl(const ExpertOptions& options) {
  // Reference events: Conv2d_1a's stride, the two stem pools, Mixed_6a, Mixed_7a.
  DownsamplePlan plan(options.image_size, 5);
  const Builder b{options.width};
  features_ = register_module("features", torch::nn::Sequential());
  features_->push_back(InceptionV3Conv(options.in_channels, b.c(32), 3, 3, plan.NextStride()));  // Conv2d_1a_3x3
  features_->push_back(InceptionV3Conv(b.c(32), b.c(32), 3, 3));                                // Conv2d_2a_3x3
  features_->push_back(InceptionV3Conv(b.c(32), b.c(64), 3, 3));                                // Conv2d_2b_3x3
  if (plan.Next()) features_->push_back(MaxPool(2));
  features_->push_back(InceptionV3Conv(b.c(64), b.c(80), 1, 1));   // Conv2d_3b_1x1
  features_->push_back(InceptionV3Conv(b.c(80), b.c(192), 3, 3));  // Conv2d_4a_3x3
  if (plan.Next()) features_->push_back(MaxPool(2));

  int in = b.c(192);
  auto add = [&](InceptionV3Module m) {
    in = m->out_channels();
    features_->push_back(m);
  };
  add(b.A(in, 32));  // Mixed_5b
  add(b.A(in, 64));  // Mixed_5c
  add(b.A(in, 64));  // Mixed_5d
  add(b.B(in, plan.NextStride()));  // Mixed_6a
  for (int c7 : {128, 160, 160, 192}) add(b.C(in, c7));  // Mixed_6b..6e
  add(b.D(in, plan.NextStride()));  // Mixed_7a
  add(b.E(in));  // Mixed_7b
  add(b.E(in));  // Mixed_7c
  dropout_ = register_module("dropout", torch::nn::Dropout(0.5));
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor InceptionV3Impl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker
