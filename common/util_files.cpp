// Private directories and files: the data dir, keys, pins. Errors name the path and the cause.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/fd.hpp"
#include "common/util.hpp"

namespace sb {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what, const fs::path& path, int err) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(err));
}

std::string octal_mode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// mkdir -p, new components mode 0700; an existing component is left as it is.
void make_dirs(const fs::path& dir) {
  fs::path partial;
  for (const fs::path& part : dir) {
    partial /= part;
    struct stat st {};
    if (::stat(partial.c_str(), &st) == 0) continue;  // mkdir could say EACCES or EROFS first
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      fail("cannot create directory", partial, errno);
    }
  }
}

void write_all(int fd, std::string_view content, const fs::path& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path, errno);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Makes the rename itself durable; without it a crash can resurrect the old file.
void fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) fail("cannot fsync directory", dir, errno);
}

}  // namespace

void ensure_private_dir(const fs::path& dir) {
  if (dir.empty()) throw std::invalid_argument("ensure_private_dir: empty path");
  make_dirs(dir);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) fail("cannot stat directory", dir, errno);
  const std::string name = dir.string();
  if (!S_ISDIR(st.st_mode)) throw std::runtime_error(name + " exists but is not a directory");
  if (st.st_uid != ::geteuid()) {
    throw std::runtime_error("directory " + name + " is owned by uid " + std::to_string(st.st_uid) +
                             ", not by uid " + std::to_string(::geteuid()) +
                             " (you): run as the owner or choose another directory");
  }
  if ((st.st_mode & 022) != 0) {
    throw std::runtime_error("directory " + name + " is group/world writable (mode " +
                             octal_mode(st.st_mode) + "): chmod 700 " + name);
  }
}

void write_file_atomic(const fs::path& file, std::string_view content, unsigned mode) {
  if (file.empty() || !file.has_filename()) {
    throw std::invalid_argument("write_file_atomic: not a file path: '" + file.string() + "'");
  }
  if ((mode & ~07777u) != 0) throw std::invalid_argument("write_file_atomic: bad mode");
  const fs::path tmp = temp_name_for(file);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) fail("cannot create", tmp, errno);
  try {
    // The umask may have narrowed the mode; the caller asked for exactly this one.
    if (::fchmod(fd.get(), mode) != 0) fail("cannot chmod", tmp, errno);
    write_all(fd.get(), content, tmp);
    if (::fsync(fd.get()) != 0) fail("cannot fsync", tmp, errno);
    if (::close(fd.release()) != 0) fail("cannot close", tmp, errno);
    if (::rename(tmp.c_str(), file.c_str()) != 0) fail("cannot rename to", file, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(file.parent_path().empty() ? fs::path(".") : file.parent_path());
}

std::string read_file_bounded(const fs::path& file, std::size_t max_bytes) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) fail("cannot open", file, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail("cannot stat", file, errno);
  // Pipes and devices could feed data forever; only regular files have a size to check.
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(file.string() + " is not a regular file");
  const std::string too_big =
      file.string() + " is larger than the limit of " + std::to_string(max_bytes) + " bytes";
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes) throw std::runtime_error(too_big);
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  // Read one byte past the limit so a file that grew since fstat is still caught.
  const std::size_t cap = max_bytes < SIZE_MAX ? max_bytes + 1 : max_bytes;
  for (;;) {
    if (got == out.size()) out.resize(std::min(out.size() + 4096, cap));
    if (got == out.size()) break;
    ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read", file, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes) throw std::runtime_error(too_big);
  out.resize(got);
  return out;
}

}  // namespace sb
