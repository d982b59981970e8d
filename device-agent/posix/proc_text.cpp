#include "device-agent/posix/proc_text.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

namespace sb::agent::posix {

namespace {

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(line) for each line, the last one with or without its '\n'.
template <typename Fn>
void each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    fn(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

std::optional<std::uint64_t> leading_number(std::string_view s) {
  s = trim(s);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  return value;
}

// A value of os-release(5): "quoted \"text\"", 'single quoted' or bare.
std::string unquote(std::string_view value) {
  value = trim(value);
  if (value.size() < 2 || (value.front() != '"' && value.front() != '\'') ||
      value.back() != value.front())
    return std::string(value);
  const char quote = value.front();
  value = value.substr(1, value.size() - 2);
  if (quote == '\'') return std::string(value);
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out += value[i];
  }
  return out;
}

// "\040" (a space in a mount path) and the other octal escapes of fstab(5).
std::string decode_octal(std::string_view s) {
  const auto digit = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && digit(s[i + 1]) && digit(s[i + 2]) && digit(s[i + 3])) {
      out +=
          static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

}  // namespace

OsRelease parse_os_release(std::string_view text) {
  std::string pretty, name, version;
  OsRelease out;
  each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() == '#') return;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) return;
    const std::string_view key = line.substr(0, eq);
    std::string value = unquote(line.substr(eq + 1));
    if (key == "PRETTY_NAME")
      pretty = std::move(value);
    else if (key == "NAME")
      name = std::move(value);
    else if (key == "VERSION")
      version = std::move(value);
    else if (key == "VERSION_ID")
      out.version_id = std::move(value);
  });
  if (pretty.empty()) pretty = version.empty() ? name : name + " " + version;
  out.pretty_name = std::move(pretty);
  return out;
}

CpuInfo parse_cpuinfo(std::string_view text) {
  // Where the model is, by architecture: x86 and some ARM "model name"; Raspberry Pi "Model";
  // 32-bit ARM "Processor"; POWER "cpu"; others "Hardware" or "uarch" (RISC-V).
  static constexpr std::string_view kModelKeys[] = {"model name", "Model",    "Processor",
                                                    "cpu",        "Hardware", "uarch"};
  constexpr std::size_t kNoModel = std::size(kModelKeys);
  CpuInfo out;
  std::size_t model_rank = kNoModel;
  std::set<std::pair<std::string, std::string>> cores;
  std::string physical, core;
  bool has_physical = false, has_core = false;
  const auto end_block = [&] {
    if (has_physical && has_core) cores.emplace(physical, core);
    has_physical = has_core = false;
  };
  each_line(text, [&](std::string_view line) {
    const auto colon = line.find(':');
    if (trim(line).empty()) return end_block();
    if (colon == std::string_view::npos) return;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "processor") {
      end_block();
      if (leading_number(value)) ++out.threads;
    } else if (key == "physical id") {
      physical = value;
      has_physical = true;
    } else if (key == "core id") {
      core = value;
      has_core = true;
    }
    for (std::size_t rank = 0; rank < model_rank; ++rank) {
      if (key == kModelKeys[rank] && !value.empty()) {
        out.model = value;
        model_rank = rank;
        break;
      }
    }
  });
  end_block();
  out.cores = static_cast<unsigned>(cores.size());
  return out;
}

MemInfo parse_meminfo(std::string_view text) {
  MemInfo out;
  std::uint64_t free = 0, buffers = 0, cached = 0;
  bool has_available = false;
  each_line(text, [&](std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const std::string_view key = line.substr(0, colon);
    std::string_view rest = trim(line.substr(colon + 1));
    auto kib = leading_number(rest);
    if (!kib) return;
    // "kB" is the only unit the kernel writes; a bare number would be a page count.
    if (!rest.ends_with("kB") || *kib > UINT64_MAX / 1024) return;
    const std::uint64_t bytes = *kib * 1024;
    if (key == "MemTotal")
      out.total_bytes = bytes;
    else if (key == "MemAvailable") {
      out.available_bytes = bytes;
      has_available = true;
    } else if (key == "MemFree")
      free = bytes;
    else if (key == "Buffers")
      buffers = bytes;
    else if (key == "Cached")
      cached = bytes;
  });
  if (!has_available) out.available_bytes = free + buffers + cached;
  out.available_bytes = std::min(out.available_bytes, out.total_bytes);
  return out;
}

std::optional<std::uint64_t> parse_uptime(std::string_view text) {
  return leading_number(text.substr(0, text.find_first_of(". \n")));
}

std::vector<MountEntry> parse_mounts(std::string_view text) {
  std::vector<MountEntry> out;
  each_line(text, [&](std::string_view line) {
    std::string_view fields[3];
    std::size_t n = 0;
    while (n < 3) {
      line = line.substr(std::min(line.find_first_not_of(" \t"), line.size()));
      if (line.empty()) break;
      const auto end = std::min(line.find_first_of(" \t"), line.size());
      fields[n++] = line.substr(0, end);
      line.remove_prefix(end);
    }
    if (n < 3) return;
    out.push_back({decode_octal(fields[0]), decode_octal(fields[1]), decode_octal(fields[2])});
  });
  return out;
}

std::vector<MountEntry> disk_mounts(const std::vector<MountEntry>& mounts) {
  static const std::set<std::string, std::less<>> kSkipped = {
      // pseudo and memory-backed
      "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
      "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs",
      "rpc_pipefs", "securityfs", "selinuxfs", "sysfs", "tmpfs", "tracefs", "fuse",
      // read-only images (every snap is a squashfs, always full)
      "squashfs", "iso9660",
      // network: statvfs waits for the server
      "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre", "ncpfs",
      "vboxsf"};
  std::vector<MountEntry> out;
  std::set<std::string, std::less<>> sources;
  for (const MountEntry& m : mounts) {
    if (kSkipped.contains(m.fs)) continue;
    // FUSE: only block devices (ntfs-3g, exfat); sshfs, gvfs and lxcfs are not this disk.
    if (m.fs.starts_with("fuse.")) continue;
    if ((m.fs == "overlay" || m.fs == "aufs") && m.mount != "/") continue;
    if (m.mount.empty() || m.mount.front() != '/') continue;
    // A later mount on the same path hides the earlier one.
    std::erase_if(out, [&](const MountEntry& e) { return e.mount == m.mount; });
    if (m.source.starts_with("/") && !sources.insert(m.source).second) continue;
    out.push_back(m);
  }
  return out;
}

}  // namespace sb::agent::posix
