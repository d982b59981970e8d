// A disk that stopped answering, for the agent's system info: preloaded into the agent
// (LD_PRELOAD), it makes statvfs() block for good, as it does on a file system whose device or
// server is gone. The agent must still connect (without the info) and stop at once.
#include <unistd.h>

// Declared here, not through <sys/statvfs.h>, whose declarations carry C++ exception
// specifications these definitions would have to repeat.
struct statvfs;
struct statvfs64;

namespace {
[[noreturn]] void block_forever() {
  for (;;) ::pause();  // a handled signal ends pause(); the disk still does not answer
}
}  // namespace

extern "C" int statvfs(const char*, struct statvfs*) {
  block_forever();
}
extern "C" int statvfs64(const char*, struct statvfs64*) {
  block_forever();
}
