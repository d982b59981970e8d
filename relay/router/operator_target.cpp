#include "relay/router/operator_target.hpp"

#include "common/names.hpp"
#include "common/util.hpp"

namespace sb::relay {

const char* mode_name(AttachMode mode) {
  switch (mode) {
    case AttachMode::kShared:
      return "shared";
    case AttachMode::kObserver:
      return "observer";
    case AttachMode::kOwn:
      return "own";
  }
  return "shared";
}

std::string OperatorTarget::display() const {
  std::string base = session_id.empty() ? device_name : session_id;
  if (mode == AttachMode::kObserver) return base + "+ro";
  if (mode == AttachMode::kOwn) return base + "+own";
  return base;
}

std::optional<OperatorTarget> parse_operator_user(std::string_view user) {
  if (user.empty() || user.size() > 96) return std::nullopt;
  OperatorTarget target;
  if (auto plus = user.rfind('+'); plus != std::string_view::npos) {
    std::string_view suffix = user.substr(plus + 1);
    if (suffix == "ro")
      target.mode = AttachMode::kObserver;
    else if (suffix == "own")
      target.mode = AttachMode::kOwn;
    else
      return std::nullopt;
    user = user.substr(0, plus);
  }
  if (auto id = parse_session_id(user)) {
    target.session_id = *id;
    return target;
  }
  if (valid_name(user)) {
    target.device_name = std::string(user);
    return target;
  }
  return std::nullopt;
}

}  // namespace sb::relay
