#include "relay/device/system_info_check.hpp"

#include "common/names.hpp"
#include "common/system_info_limits.hpp"

namespace sb::relay {

using nlohmann::json;

namespace {

// Each reader returns false (with *error set) for a member that is present and bad.
struct Checker {
  std::string* error;

  static std::string name(const std::string& where, const char* key) {
    return where.empty() ? key : where + "." + key;
  }

  bool fail(const std::string& where, const std::string& why) {
    *error = "invalid system info: " + where + " " + why;
    return false;
  }

  bool text(const json& object, const char* key, const std::string& where, json& out) {
    auto it = object.find(key);
    if (it == object.end()) return true;
    if (!it->is_string()) return fail(name(where, key), "is not a string");
    const auto& s = it->get_ref<const std::string&>();
    if (!valid_label(s, sysinfo::kMaxText))
      return fail(name(where, key), "is longer than " + std::to_string(sysinfo::kMaxText) +
                                        " bytes or has control characters");
    out[key] = s;
    return true;
  }

  bool number(const json& object, const char* key, std::uint64_t max, const std::string& where,
              json& out) {
    auto it = object.find(key);
    if (it == object.end()) return true;
    // Fractions are refused; an integer may be stored signed or unsigned.
    const bool whole =
        it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0);
    if (!whole || it->get<std::uint64_t>() > max)
      return fail(name(where, key), "is not a whole number from 0 to " + std::to_string(max));
    out[key] = it->get<std::uint64_t>();
    return true;
  }

  bool object(const json& parent, const char* key, json& member) {
    auto it = parent.find(key);
    if (it == parent.end()) return true;
    if (!it->is_object()) return fail(key, "is not an object");
    member = *it;
    return true;
  }

  // A list of objects, each member read by `item`.
  template <typename Item>
  bool list(const json& info, const char* key, std::size_t max, json& out, Item&& item) {
    auto it = info.find(key);
    if (it == info.end()) return true;
    if (!it->is_array()) return fail(key, "is not a list");
    if (it->size() > max)
      return fail(key, "has " + std::to_string(it->size()) + " entries (at most " +
                           std::to_string(max) + ")");
    json checked = json::array();
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& entry = (*it)[i];
      const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
      if (!entry.is_object()) return fail(where, "is not an object");
      json one = json::object();
      if (!item(entry, where, one)) return false;
      checked.push_back(std::move(one));
    }
    out[key] = std::move(checked);
    return true;
  }
};

}  // namespace

std::optional<json> check_system_info(const json& info, std::string* error) {
  json out = json::object();
  if (!info.is_object()) return out;  // the five fields' check reports this
  const std::size_t size = info.dump().size();
  if (size > sysinfo::kMaxTotalBytes) {
    *error = "invalid system info: " + std::to_string(size) + " bytes (at most " +
             std::to_string(sysinfo::kMaxTotalBytes) + ")";
    return std::nullopt;
  }
  Checker c{error};
  constexpr std::uint64_t kMax = sysinfo::kMaxNumber;
  if (!c.text(info, "os_version", "", out)) return std::nullopt;
  if (!c.number(info, "uptime_seconds", kMax, "", out)) return std::nullopt;

  json cpu, memory;
  if (!c.object(info, "cpu", cpu) || !c.object(info, "memory", memory)) return std::nullopt;
  if (cpu.is_object()) {
    json checked = json::object();
    if (!c.text(cpu, "model", "cpu", checked) ||
        !c.number(cpu, "cores", sysinfo::kMaxCores, "cpu", checked) ||
        !c.number(cpu, "threads", sysinfo::kMaxCores, "cpu", checked))
      return std::nullopt;
    out["cpu"] = std::move(checked);
  }
  if (memory.is_object()) {
    json checked = json::object();
    if (!c.number(memory, "total_bytes", kMax, "memory", checked) ||
        !c.number(memory, "available_bytes", kMax, "memory", checked))
      return std::nullopt;
    out["memory"] = std::move(checked);
  }

  const bool lists_ok =
      c.list(info, "disks", sysinfo::kMaxDisks, out,
             [&](const json& d, const std::string& where, json& one) {
               return c.text(d, "mount", where, one) && c.text(d, "fs", where, one) &&
                      c.number(d, "size_bytes", kMax, where, one) &&
                      c.number(d, "free_bytes", kMax, where, one);
             }) &&
      c.list(info, "addresses", sysinfo::kMaxAddresses, out,
             [&](const json& a, const std::string& where, json& one) {
               return c.text(a, "interface", where, one) && c.text(a, "address", where, one) &&
                      c.number(a, "prefix", 128, where, one);
             }) &&
      c.list(info, "users", sysinfo::kMaxUsers, out,
             [&](const json& u, const std::string& where, json& one) {
               return c.text(u, "name", where, one) && c.text(u, "terminal", where, one) &&
                      c.text(u, "from", where, one);
             });
  if (!lists_ok) return std::nullopt;
  return out;
}

}  // namespace sb::relay
