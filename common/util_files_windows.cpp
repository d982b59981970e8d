// Private directories and files on Windows. There are no POSIX modes: who may read and write
// is the data dir's ACL (set and checked by the agent's Windows code), which files inherit.
// Errors name the path and the cause.
#include <windows.h>

#include <fstream>
#include <stdexcept>

#include "common/util.hpp"

namespace sb {

namespace {

namespace fs = std::filesystem;

std::string system_message(DWORD error) {
  char buf[512] = {};
  DWORD n = ::FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                             error, 0, buf, sizeof buf, nullptr);
  std::string text(buf, n);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '.'))
    text.pop_back();
  return text.empty() ? "error " + std::to_string(error) : text;
}

[[noreturn]] void fail(const std::string& what, const fs::path& path, DWORD error) {
  throw std::runtime_error(what + " " + path.string() + ": " + system_message(error));
}

}  // namespace

void ensure_private_dir(const fs::path& dir) {
  if (dir.empty()) throw std::invalid_argument("ensure_private_dir: empty path");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create directory " + dir.string() + ": " + ec.message());
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error(dir.string() + " exists but is not a directory");
}

void write_file_atomic(const fs::path& file, std::string_view content, unsigned mode) {
  if (file.empty() || !file.has_filename()) {
    throw std::invalid_argument("write_file_atomic: not a file path: '" + file.string() + "'");
  }
  if ((mode & ~07777u) != 0) throw std::invalid_argument("write_file_atomic: bad mode");
  const fs::path tmp = temp_name_for(file);
  HANDLE h = ::CreateFileW(tmp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) fail("cannot create", tmp, ::GetLastError());
  try {
    while (!content.empty()) {
      DWORD written = 0;
      const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(content.size(), 1 << 20));
      if (!::WriteFile(h, content.data(), chunk, &written, nullptr))
        fail("cannot write", tmp, ::GetLastError());
      content.remove_prefix(written);
    }
    if (!::FlushFileBuffers(h)) fail("cannot flush", tmp, ::GetLastError());
    ::CloseHandle(h);
    h = INVALID_HANDLE_VALUE;
    if (!::MoveFileExW(tmp.c_str(), file.c_str(),
                       MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
      fail("cannot rename to", file, ::GetLastError());
  } catch (...) {
    if (h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
    ::DeleteFileW(tmp.c_str());
    throw;
  }
}

std::string read_file_bounded(const fs::path& file, std::size_t max_bytes) {
  std::error_code ec;
  auto status = fs::status(file, ec);
  if (ec) throw std::runtime_error("cannot open " + file.string() + ": " + ec.message());
  if (!fs::is_regular_file(status))
    throw std::runtime_error(file.string() + " is not a regular file");
  const std::string too_big =
      file.string() + " is larger than the limit of " + std::to_string(max_bytes) + " bytes";
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  std::string out;
  char buf[4096];
  // Read one byte past the limit so a file that grew since it was opened is still caught.
  while (in && out.size() <= max_bytes) {
    in.read(buf, sizeof buf);
    out.append(buf, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error("cannot read " + file.string());
  if (out.size() > max_bytes) throw std::runtime_error(too_big);
  return out;
}

}  // namespace sb
