// Bulk data through the relay: 100 MiB device -> operator and operator -> device arrive intact
// (SHA-256) although the reader stalls midway, and the relay does not buffer what the stalled
// reader does not take (its memory stays bounded: backpressure, not buffering).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "bulk_data.hpp"
#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kStreamSize = 100 * kMiB;
constexpr auto kStall = 3s;

// Samples a process's RSS every 20 ms and keeps the largest value.
class PeakRss {
 public:
  explicit PeakRss(pid_t pid) : pid_(pid), thread_([this] { loop(); }) {}
  ~PeakRss() {
    stop_ = true;
    thread_.join();
  }
  std::size_t peak() const { return peak_; }

 private:
  void loop() {
    while (!stop_) {
      peak_ = std::max<std::size_t>(peak_, rss_of(pid_));
      std::this_thread::sleep_for(20ms);  // sampling period
    }
  }
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> peak_{0};
  std::thread thread_;
};

// Reads up to limit bytes (or to EOF) from fd into the file.
std::size_t copy_to(int fd, std::ofstream& sink, std::size_t limit) {
  std::vector<char> buf(256 * 1024);
  std::size_t done = 0;
  while (done < limit) {
    ssize_t n = ::read(fd, buf.data(), std::min(buf.size(), limit - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sink.write(buf.data(), n);
    done += static_cast<std::size_t>(n);
  }
  return done;
}

class OperatorStream : public OperatorTest {
 protected:
  void SetUp() override {
    data_ = tmp_ / "data.bin";
    write_random_file(data_, kStreamSize);
    expected_ = sha256_of(data_);
    start_device({"alice"});
    // The relay knows alice's key before the timed part starts.
    auto ready = exec("alice", "echo ready");
    ASSERT_EQ(ready.exit_code, 0) << ready.err;
  }
  // alice's ssh into the session, running command.
  std::vector<std::string> alice_ssh(const std::string& command) const {
    return ssh("alice", id_, {}, {command});
  }

  fs::path data_;
  std::string expected_;
};

TEST_F(OperatorStream, HundredMiBToTheOperatorWithAStalledReader) {
  std::size_t baseline = rss_of(relay_->process().pid());
  PeakRss peak(relay_->process().pid());
  // Its stdout is read here, at this test's pace (the harness would read it all as it comes).
  Process download(alice_ssh("cat " + data_.string()), {}, Process::Stdout::Raw);
  download.close_stdin();
  std::ofstream sink(tmp_ / "received.bin", std::ios::binary);

  std::size_t got = copy_to(download.raw_stdout(), sink, 10 * kMiB);
  ASSERT_EQ(got, 10 * kMiB) << "the stream stopped early";
  std::this_thread::sleep_for(kStall);  // the deliberate stall of the reader
  std::size_t during_stall = peak.peak();
  got += copy_to(download.raw_stdout(), sink, kStreamSize);  // the rest, to EOF
  sink.close();
  EXPECT_EQ(download.wait(60s), 0) << download.err();
  EXPECT_EQ(got, kStreamSize);
  EXPECT_EQ(sha256_of(tmp_ / "received.bin"), expected_) << "the stream arrived altered";
  // With backpressure the relay holds at most a few windows' worth, not the 90 MiB the stalled
  // reader had not taken yet.
  if (!sanitized_binaries()) {
    EXPECT_LT(during_stall, baseline + 48 * kMiB)
        << "relay RSS grew from " << baseline << " to " << during_stall << " during the stall";
  }
}

TEST_F(OperatorStream, HundredMiBToTheDeviceWithAStalledReader) {
  std::size_t baseline = rss_of(relay_->process().pid());
  PeakRss peak(relay_->process().pid());
  // On the device, the reader takes 10 MiB, stalls, then takes the rest (dd reads exactly).
  Process upload(
      alice_ssh("{ dd bs=1048576 count=10 iflag=fullblock status=none; sleep 3; cat; } | "
                "sha256sum"));
  std::ifstream in(data_, std::ios::binary);
  std::vector<char> buf(kMiB);
  auto start = Clock::now();
  for (std::size_t done = 0; done < kStreamSize; done += kMiB) {
    in.read(buf.data(), static_cast<std::streamsize>(kMiB));
    upload.write_stdin(std::string(buf.data(), kMiB));  // blocks while the device does not read
  }
  upload.close_stdin();
  auto code = upload.wait(60s);
  double took = std::chrono::duration<double>(Clock::now() - start).count();

  ASSERT_TRUE(code) << "the upload did not finish";
  EXPECT_EQ(*code, 0) << upload.err();
  EXPECT_TRUE(upload.wait_for_output(expected_ + "  -", 5s))
      << "the device received something else: " << upload.out() << upload.err();
  EXPECT_GE(took, 2.5) << "the device's reader stalled for 3 s";
  if (!sanitized_binaries()) {
    EXPECT_LT(peak.peak(), baseline + 48 * kMiB)
        << "relay RSS grew from " << baseline << " to " << peak.peak() << " during the upload";
  }
}

}  // namespace
}  // namespace sb::e2e
