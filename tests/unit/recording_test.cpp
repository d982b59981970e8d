// Shell recordings: the asciicast v2 writer (header, escaping, UTF-8 across chunks, invalid
// bytes, resizes, the size cap), the streaming reader, and the recorder thread end to end
// (files, modes, events, a full queue, a disk that refuses writes).
#include "relay/audit/recording.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "relay/audit/recorder.hpp"
#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::relay {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sb::test::mode_of;
using sb::test::TempDir;

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The "o" events of a file, concatenated.
std::string output_of(const fs::path& file) {
  std::string out;
  auto lines = lines_of(file);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto e = json::parse(lines[i]);
    if (e[1] == "o") out += e[2].get<std::string>();
  }
  return out;
}

// A file size limit on this process (RLIMIT_FSIZE): a write past it fails with EFBIG, as a
// write to a full disk fails, for every file (recordings and the database alike). SIGXFSZ is
// ignored meanwhile, as the relay ignores it.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) : old_handler_(std::signal(SIGXFSZ, SIG_IGN)) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit limit = old_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() {
    lift();
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  void lift() { ::setrlimit(RLIMIT_FSIZE, &old_); }

 private:
  rlimit old_{};
  void (*old_handler_)(int);
};

bool eventually(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(Asciicast, HeaderCarriesSizeTimeTermAndTitle) {
  std::string line = rec::header_line({.width = 120,
                                       .height = 40,
                                       .timestamp = 1795000000,
                                       .term = "xterm-256color",
                                       .title = "switchboard session 482 913 075 (web-01)"});
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1);
  auto h = json::parse(line);
  EXPECT_EQ(h["version"], 2);
  EXPECT_EQ(h["width"], 120);
  EXPECT_EQ(h["height"], 40);
  EXPECT_EQ(h["timestamp"], 1795000000);
  EXPECT_EQ(h["env"]["TERM"], "xterm-256color");
  EXPECT_EQ(h["title"], "switchboard session 482 913 075 (web-01)");
  EXPECT_EQ(line.rfind("{\"version\":2", 0), 0u) << "version first, as asciinema writes it";
}

TEST(Asciicast, EventLineEscapesControlCharactersQuotesAndNewlines) {
  std::string text = "a\"b\\c\x1b[1m\r\n\t\x01 end";
  std::string line = rec::event_line(1.25, "o", text);
  ASSERT_EQ(line.find('\n'), line.size() - 1) << "one event, one line";
  auto e = json::parse(line);
  ASSERT_TRUE(e.is_array());
  EXPECT_DOUBLE_EQ(e[0].get<double>(), 1.25);
  EXPECT_EQ(e[1], "o");
  EXPECT_EQ(e[2], text);
}

TEST(Asciicast, ResizeEventIsColsByRows) {
  auto e = json::parse(rec::resize_line(3.5, 100, 40));
  EXPECT_EQ(e[1], "r");
  EXPECT_EQ(e[2], "100x40");
}

TEST(Utf8Carry, CharacterSplitAcrossChunksIsKeptWhole) {
  rec::Utf8Carry carry;
  EXPECT_EQ(carry.take("caf\xC3"), "caf");
  EXPECT_EQ(carry.take("\xA9!"), "\xC3\xA9!");
  // A four-byte character (U+1F600) in three pieces.
  EXPECT_EQ(carry.take("x\xF0\x9F"), "x");
  EXPECT_EQ(carry.take("\x98"), "");
  EXPECT_EQ(carry.take("\x80y"), "\xF0\x9F\x98\x80y");
  EXPECT_EQ(carry.rest(), "");
}

TEST(Utf8Carry, InvalidBytesAreNotHeldBack) {
  rec::Utf8Carry carry;
  EXPECT_EQ(carry.take("a\xFF"), "a\xFF");  // never valid: passes on (replaced later)
  EXPECT_EQ(carry.take("b\x80"), "b\x80");  // a stray continuation byte
  EXPECT_EQ(carry.take("\xE2\x82"), "");    // incomplete: held
  EXPECT_EQ(carry.rest(), "\xE2\x82");      // what is left at the end
}

TEST(CastFile, WritesHeaderEventsAndReplacesOnlyInvalidBytes) {
  TempDir tmp;
  fs::path file = tmp.path() / "x.cast";
  {
    rec::CastFile cast(file, 1 << 20,
                       {.width = 80, .height = 24, .timestamp = 1, .term = "xterm", .title = "t"});
    EXPECT_TRUE(cast.output(0.1, "h\xC3"));
    EXPECT_TRUE(cast.output(0.2, "\xA9llo\r\n"));
    EXPECT_TRUE(cast.output(0.3, "bad \xFF byte\r\n"));
    EXPECT_TRUE(cast.input(0.4, "ls\r"));
    EXPECT_TRUE(cast.resize(0.5, 132, 50));
    cast.close(0.6);
    EXPECT_FALSE(cast.truncated());
  }
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(output_of(file), "h\xC3\xA9llo\r\nbad \xEF\xBF\xBD byte\r\n");
  auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(json::parse(lines[1])[2], "h");
  EXPECT_EQ(json::parse(lines[2])[2], "\xC3\xA9llo\r\n");
  EXPECT_EQ(json::parse(lines[4]), json::parse(R"([0.4, "i", "ls\r"])"));
  EXPECT_EQ(json::parse(lines[5])[2], "132x50");
}

TEST(CastFile, NeverOverwritesAnExistingFile) {
  TempDir tmp;
  std::ofstream(tmp.path() / "x.cast") << "keep";
  EXPECT_THROW(rec::CastFile(tmp.path() / "x.cast", 1 << 20, {}), std::runtime_error);
  EXPECT_EQ(lines_of(tmp.path() / "x.cast"), std::vector<std::string>{"keep"});
}

TEST(CastFile, SizeCapEndsWithMarkerAndStaysUnderTheCap) {
  TempDir tmp;
  fs::path file = tmp.path() / "x.cast";
  const std::uint64_t cap = 4096;
  rec::CastFile cast(file, cap, {});
  std::string chunk(500, 'x');
  int accepted = 0;
  while (cast.output(accepted * 0.1, chunk)) ++accepted;
  EXPECT_GT(accepted, 3);
  EXPECT_TRUE(cast.truncated());
  EXPECT_FALSE(cast.output(99, "more"));
  EXPECT_FALSE(cast.resize(99, 1, 1));
  cast.close(100);
  EXPECT_LE(fs::file_size(file), cap);
  EXPECT_EQ(fs::file_size(file), cast.bytes());
  auto lines = lines_of(file);
  auto last = json::parse(lines.back());
  EXPECT_EQ(last[1], "m");
  EXPECT_EQ(last[2], std::string(rec::kSizeCapMarker));
  EXPECT_EQ(output_of(file).size(), accepted * chunk.size());
}

TEST(CastReader, ReadsHeaderAndEventsAndNamesTheBadLine) {
  TempDir tmp;
  fs::path file = tmp.path() / "r.cast";
  std::ofstream(file) << R"({"version": 2, "width": 80, "height": 24})"
                      << "\n"
                      << R"([0.5, "o", "hi"])"
                      << "\n"
                      << R"([0.7, "o"])"
                      << "\n";
  rec::CastReader reader(file);
  EXPECT_EQ(reader.header()["width"], 80);
  auto first = reader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data, "hi");
  try {
    reader.next();
    FAIL() << "a malformed event was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("r.cast line 3"), std::string::npos) << e.what();
  }
}

TEST(CastReader, RefusesWhatIsNotAsciicastV2) {
  TempDir tmp;
  std::ofstream(tmp.path() / "v1.cast") << R"({"version": 1, "width": 80, "height": 24})"
                                        << "\n";
  EXPECT_THROW(rec::CastReader(tmp.path() / "v1.cast"), std::runtime_error);
  std::ofstream(tmp.path() / "empty.cast");
  EXPECT_THROW(rec::CastReader(tmp.path() / "empty.cast"), std::runtime_error);
  EXPECT_THROW(rec::CastReader(tmp.path() / "missing.cast"), std::runtime_error);
}

// Found while adding tests/fuzz/asciicast_fuzz: mistyped header members threw json::type_error (not
// the documented std::runtime_error) in `relay replay`, and huge times overflowed its conversions.
TEST(CastReader, RefusesMistypedHeadersAndTimesOutOfRange) {
  TempDir tmp;
  auto reader_of = [&](const std::string& text) {
    std::ofstream(tmp.path() / "x.cast", std::ios::trunc) << text;
    rec::CastReader reader(tmp.path() / "x.cast");
    while (reader.next()) {
    }
  };
  for (const char* header : {R"({"version": "2", "width": 80, "height": 24})",
                             R"({"version": 2, "width": -1, "height": 24})",
                             R"({"version": 2, "width": 80, "height": 1e9})",
                             R"({"version": 2, "width": 80, "height": 24, "timestamp": "today"})",
                             R"({"version": 2, "width": 80, "height": 24, "title": 5})"})
    EXPECT_THROW(reader_of(std::string(header) + "\n"), std::runtime_error) << header;
  const std::string good =
      R"({"version": 2, "width": 80, "height": 24, "timestamp": 1, "title": "t"})";
  EXPECT_NO_THROW(reader_of(good + "\n[1000000.5, \"o\", \"x\"]\n"));
  EXPECT_THROW(reader_of(good + "\n[1e300, \"o\", \"x\"]\n"), std::runtime_error);
}

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Db::open(tmp_.path() / "relay.db", true);
    store_ = std::make_unique<store::Store>(tmp_.path() / "relay.db");
  }
  RecordingInfo own_shell() {
    RecordingInfo info;
    info.session = "482913075";
    info.device = "web-01";
    info.operator_name = "alice";
    info.shared = false;
    info.cols = 100;
    info.rows = 30;
    return info;
  }
  std::vector<fs::path> recordings() {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tmp_.path() / "recordings" / "482913075", ec))
      files.push_back(e.path());
    return files;
  }
  std::vector<json> events(const std::string& prefix) {
    store_->flush();
    return store::Db::open(tmp_.path() / "relay.db", false)->list_events(prefix, 100);
  }
  TempDir tmp_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(RecorderTest, WritesPrivateFilesAndPostsStartedAndStopped) {
  {
    Recorder recorder(tmp_.path(), {.max_file_bytes = 1 << 20, .record_input = false}, *store_);
    auto recording = recorder.start(own_shell());
    ASSERT_TRUE(recording);
    recording->output("hello ");
    recording->input("typed");  // not recorded without record_input
    recording->resize(90, 20);
    recording->output("world\r\n");
  }
  auto files = recordings();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].filename().string().ends_with("_own-alice.cast")) << files[0];
  EXPECT_EQ(mode_of(files[0]), 0600u);
  EXPECT_EQ(mode_of(files[0].parent_path()), 0700u);
  EXPECT_EQ(mode_of(tmp_.path() / "recordings"), 0700u);
  EXPECT_EQ(output_of(files[0]), "hello world\r\n");
  for (const auto& line : lines_of(files[0]))
    EXPECT_EQ(line.find("typed"), std::string::npos) << "input recorded without record_input";
  auto header = json::parse(lines_of(files[0])[0]);
  EXPECT_EQ(header["width"], 100);
  EXPECT_EQ(header["height"], 30);

  auto started = events("recording.started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["actor"], "alice");
  EXPECT_EQ(started[0]["detail"]["session"], "482913075");
  EXPECT_EQ(started[0]["detail"]["device"], "web-01");
  EXPECT_EQ(started[0]["detail"]["operator"], "alice");
  EXPECT_EQ(started[0]["detail"]["kind"], "own");
  std::string path = started[0]["detail"]["path"];
  EXPECT_EQ(fs::path(path).parent_path(), fs::path("recordings/482913075"));
  EXPECT_EQ(tmp_.path() / path, files[0]);
  auto stopped = events("recording.stopped");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0]["detail"]["bytes"], fs::file_size(files[0]));
  EXPECT_EQ(stopped[0]["detail"]["truncated"], false);
}

TEST_F(RecorderTest, RecordsInputWhenAsked) {
  {
    Recorder recorder(tmp_.path(), {.max_file_bytes = 1 << 20, .record_input = true}, *store_);
    auto recording = recorder.start(own_shell());
    recording->input("ls -l\r");
  }
  auto files = recordings();
  ASSERT_EQ(files.size(), 1u);
  auto lines = lines_of(files[0]);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[1])[1], "i");
  EXPECT_EQ(json::parse(lines[1])[2], "ls -l\r");
}

TEST_F(RecorderTest, SizeCapStopsTheRecordingAndMarksItTruncated) {
  {
    Recorder recorder(tmp_.path(), {.max_file_bytes = 4096}, *store_);
    auto recording = recorder.start(own_shell());
    for (int i = 0; i < 50; ++i) recording->output(std::string(200, 'y'));
  }
  auto files = recordings();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_LE(fs::file_size(files[0]), 4096u);
  auto stopped = events("recording.stopped");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0]["detail"]["truncated"], true);
}

TEST_F(RecorderTest, FullQueueDropsCountsAndMarksTruncated) {
  {
    // A queue smaller than one chunk: that chunk is dropped, never waited for.
    Recorder recorder(tmp_.path(), {.max_queued_bytes = 100}, *store_);
    auto recording = recorder.start(own_shell());
    recording->output(std::string(1000, 'z'));
    EXPECT_EQ(recorder.dropped_bytes(), 1000u);
    recording->output("after");
  }
  auto files = recordings();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(output_of(files[0]), "after");
  auto lines = lines_of(files[0]);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(json::parse(lines[1])[1], "m");
  auto stopped = events("recording.stopped");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0]["detail"]["truncated"], true);
  EXPECT_EQ(stopped[0]["detail"]["dropped"], 1000);
}

TEST_F(RecorderTest, TwoRecordingsOfTheSameKindInOneSecondGetTwoFiles) {
  {
    Recorder recorder(tmp_.path(), {}, *store_);
    auto a = recorder.start(own_shell());
    auto b = recorder.start(own_shell());
    a->output("a");
    b->output("b");
  }
  EXPECT_EQ(recordings().size(), 2u);
}

TEST_F(RecorderTest, ARecordingTheDiskRefusesStopsCutAtItsLastWholeLineAndIsMarkedFailed) {
  fs::path file;
  {
    Recorder recorder(tmp_.path(), {}, *store_);
    auto recording = recorder.start(own_shell());
    recording->output("before\r\n");
    ASSERT_TRUE(eventually([&] { return !recordings().empty(); }));
    file = recordings().front();
    ASSERT_TRUE(eventually([&] { return output_of(file) == "before\r\n"; }));  // flushed
    FileSizeLimit limit(fs::file_size(file) + 10);    // part of a line fits, not a whole one
    recording->output(std::string(100 * 1024, 'x'));  // past the buffer: written at once
    ASSERT_TRUE(eventually([&] { return recorder.open_paths().empty(); })) << "still recording";
    limit.lift();
    recording->output("after");  // the recording has stopped: not written
  }
  EXPECT_EQ(output_of(file), "before\r\n");
  rec::CastReader reader(file);  // what is kept still replays: no partial line
  while (reader.next()) {
  }
  auto stopped = events("recording.stopped");
  ASSERT_EQ(stopped.size(), 1u);
  const json& d = stopped[0]["detail"];
  EXPECT_EQ(d["failed"], "File too large") << d.dump();
  EXPECT_EQ(d["kept"], true);
  EXPECT_EQ(d["truncated"], true);
  EXPECT_EQ(d["bytes"], fs::file_size(file));
}

TEST_F(RecorderTest, ARecordingThatCannotBeWrittenAtAllLeavesNoEmptyFileAndIsMarkedFailed) {
  {
    FileSizeLimit limit(0);  // nothing can be written, by the recorder or the store
    Recorder recorder(tmp_.path(), {}, *store_);
    auto recording = recorder.start(own_shell());
    ASSERT_TRUE(recording);
    recording->output("lost");
  }  // the recorder handled everything before it stopped; then the disk has room again
  EXPECT_TRUE(recordings().empty()) << "an empty recording was left behind";
  auto started = events("recording.started");
  ASSERT_EQ(started.size(), 1u) << "the store lost the recording's events";
  auto stopped = events("recording.stopped");
  ASSERT_EQ(stopped.size(), 1u);
  const json& d = stopped[0]["detail"];
  EXPECT_EQ(d["failed"], "File too large") << d.dump();
  EXPECT_EQ(d["kept"], false);
  EXPECT_EQ(d["bytes"], 0);
  EXPECT_EQ(d["path"], started[0]["detail"]["path"]);
}

}  // namespace
}  // namespace sb::relay
