// The bash completion shipped in the packages (packaging/bash-completion/switchboard): verbs and
// flags at every level of each command, read from its --help; a directory for --data-dir.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;

// What a TAB after `words` offers (the last word is the one being completed), one per line, in
// order (as bash lists them).
std::string complete(const std::vector<std::string>& words, const fs::path& cwd = ".") {
  std::string script = "cd '" + cwd.string() +
                       "' && source '" SB_SOURCE_DIR
                       "/packaging/bash-completion/switchboard' && COMP_WORDS=(";
  for (const auto& word : words) script += "'" + word + "' ";
  script += "); COMP_CWORD=" + std::to_string(words.size() - 1) +
            "; _switchboard; printf '%s\\n' \"${COMPREPLY[@]}\" | LC_ALL=C sort";
  auto result = run({"/bin/bash", "-c", script});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out;
}

TEST(BashCompletion, OffersTheVerbsAndFlagsOfEachLevel) {
  EXPECT_EQ(complete({relay_bin(), "en"}), "enroll\n");
  EXPECT_EQ(complete({relay_bin(), "enroll", ""}), "create\nlist\nrevoke\n");
  EXPECT_EQ(complete({relay_bin(), "enroll", "create", "--na"}), "--name\n--name-from-hostname\n");
  // A flag's value does not count as a verb: `relay session show ID --` still offers show's flags.
  EXPECT_EQ(complete({relay_bin(), "session", "show", "482913075", "--j"}), "--json\n");
  EXPECT_EQ(complete({agent_bin(), "run", "--relay-"}), "--relay-key\n");
  const std::string verbs = complete({operator_bin(), ""});
  for (const char* verb : {"connect\n", "exec\n", "get\n", "put\n", "sessions\n"})
    EXPECT_TRUE(contains(verbs, verb)) << verb << " missing from:\n" << verbs;
}

TEST(BashCompletion, DataDirTakesADirectoryAndOtherValuesAFile) {
  TempDir tmp;
  fs::create_directory(tmp / "data");
  run({"/usr/bin/touch", (tmp / "dance.txt").string()});
  EXPECT_EQ(complete({relay_bin(), "serve", "--data-dir", "d"}, tmp.path()), "data\n");
  EXPECT_EQ(complete({operator_bin(), "exec", "-i", "da"}, tmp.path()), "dance.txt\ndata\n");
}

}  // namespace
}  // namespace sb::e2e
