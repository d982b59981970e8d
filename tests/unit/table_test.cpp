// Table: the admin verbs' plain-text tables. Columns are as wide as their widest cell (counted
// in UTF-8 code points) and separated by two spaces; control characters from the network are
// printed as '?'.
#include "common/table.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace sb::relay {
namespace {

std::string render(const Table& t) {
  std::ostringstream out;
  t.print(out);
  return out.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string rtrim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Code point offset of byte offset `pos` in `s` (continuation bytes do not count).
std::size_t column_of(const std::string& s, std::size_t pos) {
  std::size_t col = 0;
  for (std::size_t i = 0; i < pos && i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++col;
  return col;
}

TEST(Table, HeaderAndRowsAreAligned) {
  Table t({"ID", "NAME", "STATUS"});
  t.add({"1", "alpha", "online"});
  t.add({"123456789", "b", "off"});
  EXPECT_EQ(render(t),
            "ID         NAME   STATUS\n"
            "1          alpha  online\n"
            "123456789  b      off\n");
}

TEST(Table, HeaderWiderThanEveryCell) {
  Table t({"SESSION", "DEVICE"});
  t.add({"1", "x"});
  EXPECT_EQ(render(t),
            "SESSION  DEVICE\n"
            "1        x\n");
}

TEST(Table, ColumnsStartAtTheSameOffsetOnEveryLine) {
  Table t({"A", "B", "C", "D"});
  t.add({"aaaaaaa", "", "c", "dd"});
  t.add({"", "bbbbbbbbbbbb", "", "d"});
  t.add({"a", "b", "ccccc", ""});
  auto ls = lines(render(t));
  ASSERT_EQ(ls.size(), 4u);
  // A: width 7, B: width 12, C: width 5 -> columns start at 0, 9, 23, 30.
  EXPECT_EQ(ls[0], "A        B             C      D");
  EXPECT_EQ(ls[1].find("c"), 23u);
  EXPECT_EQ(ls[1].find("dd"), 30u);
  EXPECT_EQ(ls[2].find("bbbb"), 9u);
  EXPECT_EQ(ls[2].find("d"), 30u);
  EXPECT_EQ(ls[3].find("ccccc"), 23u);
}

TEST(Table, LastColumnIsNotPadded) {
  Table t({"K", "VALUE"});
  t.add({"k", "v"});
  t.add({"k", "a much longer value"});
  auto ls = lines(render(t));
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(ls[0], "K  VALUE");
  EXPECT_EQ(ls[1], "k  v");
  EXPECT_EQ(ls[2], "k  a much longer value");
}

TEST(Table, Utf8CellsAreCountedByCodePoint) {
  Table t({"HOST", "OS"});
  t.add({"café", "x"});  // 4 code points, 5 bytes
  t.add({"ab", "y"});
  t.add({"日本語", "z"});    // 3 code points, 9 bytes
  t.add({"naïve-pi", "w"});  // 8 code points
  auto ls = lines(render(t));
  ASSERT_EQ(ls.size(), 5u);
  EXPECT_EQ(ls[0], "HOST      OS");
  EXPECT_EQ(ls[1], "café      x");
  EXPECT_EQ(ls[2], "ab        y");
  EXPECT_EQ(ls[3], "日本語       z");
  EXPECT_EQ(ls[4], "naïve-pi  w");
  // The second column starts at the same code point offset on every line.
  for (const auto& l : ls) EXPECT_EQ(column_of(l, l.rfind(' ') + 1), 10u) << l;
}

TEST(Table, Utf8HeaderIsCountedByCodePoint) {
  Table t({"Gerät", "X"});
  t.add({"a", "b"});
  EXPECT_EQ(render(t),
            "Gerät  X\n"
            "a      b\n");
}

TEST(Table, ControlCharactersAreReplaced) {
  Table t({"HOSTNAME", "OS"});
  t.add({"evil\x1b]0;owned\x07name", "linux"});
  t.add({"line\nbreak", "tab\there"});
  t.add({"cr\rback", std::string("nul\0byte", 8)});
  t.add({"del\x7f", "\x01\x1f"});
  std::string out = render(t);
  auto ls = lines(out);
  ASSERT_EQ(ls.size(), 5u) << "an embedded newline must not start a new line";
  EXPECT_EQ(rtrim(ls[1]), "evil?]0;owned?name  linux");
  EXPECT_EQ(rtrim(ls[2]), "line?break          tab?here");
  EXPECT_EQ(rtrim(ls[3]), "cr?back             nul?byte");
  EXPECT_EQ(rtrim(ls[4]), "del?                ??");
  for (char c : out) {
    auto u = static_cast<unsigned char>(c);
    if (c != '\n') {
      EXPECT_TRUE(u >= 0x20 && u != 0x7f) << "byte " << int(u);
    }
  }
}

TEST(Table, C1ControlCharactersAreReplaced) {
  // U+009B is CSI on terminals that honour C1 controls (xterm in UTF-8 mode does):
  // "\u009b2J" clears the admin's screen just like "\x1b[2J". U+0085 (NEL) breaks lines.
  Table t({"HOSTNAME"});
  t.add(
      {"a\xc2\x9b"
       "2Jb"});
  t.add(
      {"c\xc2\x85"
       "d"});
  std::string out = render(t);
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos) << out;
  EXPECT_EQ(out.find("\xc2\x85"), std::string::npos) << out;
  EXPECT_NE(out.find("2Jb"), std::string::npos) << "the rest of the cell is kept";
}

TEST(Table, PrintableUnicodeIsKept) {
  Table t({"OS"});
  t.add({"Debian GNU/Linux 12 (bookworm) – ARM64 ✓"});
  EXPECT_EQ(lines(render(t)).at(1), "Debian GNU/Linux 12 (bookworm) – ARM64 ✓");
}

TEST(Table, ShortRowsArePadded) {
  Table t({"A", "BB", "C"});
  t.add({"1"});
  t.add({"2", "x"});
  t.add({});
  auto ls = lines(render(t));
  ASSERT_EQ(ls.size(), 4u);
  EXPECT_EQ(ls[0], "A  BB  C");
  EXPECT_EQ(rtrim(ls[1]), "1");
  EXPECT_EQ(rtrim(ls[2]), "2  x");
  EXPECT_EQ(rtrim(ls[3]), "");
  EXPECT_EQ(ls[2].find('x'), ls[0].find("BB"));
}

TEST(Table, ExtraCellsAreDropped) {
  Table t({"A", "B"});
  t.add({"1", "2", "surplus"});
  EXPECT_EQ(render(t),
            "A  B\n"
            "1  2\n");
}

TEST(Table, EmptyTablePrintsTheHeaderOnly) {
  Table t({"NAME", "STATUS"});
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(render(t), "NAME  STATUS\n");
  t.add({"a", "b"});
  EXPECT_FALSE(t.empty());
}

TEST(Table, EmptyCellsKeepAlignment) {
  Table t({"A", "B", "C"});
  t.add({"", "", "c"});
  t.add({"aaa", "bbb", ""});
  auto ls = lines(render(t));
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(ls[1], "          c");
  EXPECT_EQ(ls[1].find('c'), ls[0].find('C'));
  EXPECT_EQ(rtrim(ls[2]), "aaa  bbb");
}

}  // namespace
}  // namespace sb::relay
