#include "worker/train/metrics_json.h"

#include <vector>

namespace moe4::worker {

nlohmann::json MetricsToJson(const moe4::v1::EpochMetrics& m) {
  auto list = [](const auto& repeated) { return std::vector<double>(repeated.begin(), repeated.end()); };
  nlohmann::json json{
      {"epoch", m.epoch()},
      {"train_loss", m.train_loss()},
      {"train_accuracy", m.train_accuracy()},
      {"test_loss", m.test_loss()},
      {"test_accuracy", m.test_accuracy()},
      {"lr", m.lr()},
      {"gate_mean", list(m.gate_mean())},
      {"routing_share", list(m.routing_share())},
      {"expert_accuracy", list(m.expert_accuracy())},
      {"routing_entropy", m.routing_entropy()},
      {"dead_experts", m.dead_experts()},
      {"ecology", m.ecology()},
      {"temperature", m.temperature()},
      {"epoch_seconds", m.epoch_seconds()},
      {"images_per_second", m.images_per_second()},
      {"peak_memory_bytes", m.peak_memory_bytes()},
  };
  // Only with a validation split (absent, not 0, without one).
  if (m.has_validation_loss()) json["validation_loss"] = m.validation_loss();
  if (m.has_validation_accuracy()) json["validation_accuracy"] = m.validation_accuracy();
  if (m.num_classes() > 0) {
    json["num_classes"] = m.num_classes();
    json["expert_class_accuracy"] = list(m.expert_class_accuracy());  // NaN (no image of a class) dumps as null
  }
  if (m.has_specialisation_bits()) json["specialisation_bits"] = m.specialisation_bits();
  if (m.has_specialisation_normalised()) json["specialisation_normalised"] = m.specialisation_normalised();
  return json;
}

}  // namespace moe4::worker
