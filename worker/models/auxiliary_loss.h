// An optional second interface for expert modules whose training objective has
// a term beyond the mixture's data loss: BayesianNet-1's KL(q(w) || p(w)) is
// the one builtin user. The mixture finds implementers once (dynamic_cast on
// the expert module) and sums their terms after every forward
// (MoEOutput::auxiliary_loss); the trainer adds that sum divided by the number
// of training images to each minibatch's mean loss. Implementations are
// LibTorch modules and, like them, not thread-safe.
#ifndef MOE4_WORKER_MODELS_AUXILIARY_LOSS_H_
#define MOE4_WORKER_MODELS_AUXILIARY_LOSS_H_

#include <torch/torch.h>

namespace moe4::worker {

class AuxiliaryLossSource {
 public:
  virtual ~AuxiliaryLossSource() = default;

  // A differentiable scalar for the whole training set, not per example (a KL
  // over all weights is counted once per pass over the data). Dividing it by
  // N training images per minibatch of mean losses is the uniform minibatch
  // weighting of the ELBO in Bayes by backprop (Blundell et al. 2015, section 3.4,
  // with pi_i = 1/M, rescaled by the batch size), so the summed objective over
  // an epoch is the full-data ELBO divided by N.
  virtual torch::Tensor auxiliary_loss() = 0;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_AUXILIARY_LOSS_H_
