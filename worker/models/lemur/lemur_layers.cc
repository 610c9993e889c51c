#include "worker/models/lemur/lemur_layers.h"

#include <algorithm>
#include <cmath>

namespace moe4::worker::lemur {

int Scaled(int reference, double width, int divisor) {
  if (width == 1.0) return reference;
  const double units = std::round(reference * width / divisor);
  return std::max(divisor, static_cast<int>(units) * divisor);
}

}  // namespace moe4::worker::lemur
