// Which catalogue builds a campaign's experts, and the smallest input each
// family of it accepts. Two catalogues build the same 29 ids
// (shared/FAMILIES.md): `lemur` (the default) builds LEMUR's networks exactly,
// with no small-input adaptation, so several of its families need inputs
// larger than 28x28; `adapted` builds reference designs adapted to 28x28 and
// 32x32. Shared by the spec validator (coordinator, moe4ctl) and the worker,
// without LibTorch. Immutable tables; safe for concurrent use.
#pragma once

#include <optional>
#include <string_view>

namespace moe4 {

enum class Catalogue {
  kLemur,    // LEMUR's networks as published (default)
  kAdapted,  // reference designs adapted to small inputs
};

inline constexpr Catalogue kDefaultCatalogue = Catalogue::kLemur;

// "lemur" / "adapted": the spelling of the spec, the proto and the database.
std::string_view CatalogueName(Catalogue catalogue);
std::optional<Catalogue> ParseCatalogue(std::string_view name);

// The smallest square input side (pixels, after `resize`) that `family`
// accepts in `catalogue`, for 1 and 3 channels alike; 0 for an unknown id.
// `lemur` figures are where LEMUR's own network still produces logits (a
// feature map shrinks to nothing below them); the worker tests check each one
// (builds and trains at the size, refuses one pixel less).
int MinimumImageSize(Catalogue catalogue, std::string_view family);

// The largest square input side `family` accepts in `catalogue`; 0 when there
// is no limit. Only LEMUR's BayesianNet-1 has one: its classifier flattens a
// fixed 2x2x128 map (view(-1, 512)), so only inputs of 31..38 pixels give it
// logits of the right batch size.
int MaximumImageSize(Catalogue catalogue, std::string_view family);

}  // namespace moe4
