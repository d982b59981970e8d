// operator-cli get / put: the scp command line they run.
#include <gtest/gtest.h>

#include "operator-cli/ssh_command.hpp"

namespace sb::op {
namespace {

Connection relay(const std::string& host) {
  Connection c;
  c.relay_host = host;
  c.relay_port = 2222;
  c.identity = "/keys/alice";
  c.known_hosts = "/tmp/kh";
  c.extra = {"BatchMode=yes"};
  return c;
}

using Args = std::vector<std::string>;

TEST(OperatorCopy, GetAndPutRunScpWithTheSshOptions) {
  const Args options = {"scp",
                        "-P",
                        "2222",
                        "-i",
                        "/keys/alice",
                        "-o",
                        "IdentitiesOnly=yes",
                        "-o",
                        "UserKnownHostsFile=/tmp/kh",
                        "-o",
                        "BatchMode=yes"};
  Args get = options;
  get.insert(get.end(), {"--", "482913075@relay.example:/var/log/syslog", "syslog.txt"});
  EXPECT_EQ(copy_args(relay("relay.example"), "482913075", Copy::kGet, "/var/log/syslog",
                      "syslog.txt", false),
            get);
  Args put = options;
  put.insert(put.end(), {"-r", "--", "dir", "web-01@relay.example:backup"});
  EXPECT_EQ(copy_args(relay("relay.example"), "web-01", Copy::kPut, "backup", "dir", true), put);
}

TEST(OperatorCopy, OperandsScpCouldMisreadAreMadeUnambiguous) {
  auto last_two = [](const Args& a) { return Args(a.end() - 2, a.end()); };
  // An IPv6 relay in brackets.
  EXPECT_EQ(last_two(copy_args(relay("::1"), "web-01", Copy::kGet, "/etc/hosts", "hosts", false)),
            (Args{"web-01@[::1]:/etc/hosts", "hosts"}));
  // A local name with a colon before any slash would be read as HOST:PATH.
  EXPECT_EQ(last_two(copy_args(relay("r"), "web-01", Copy::kPut, "/tmp/x", "a:b", false)),
            (Args{"./a:b", "web-01@r:/tmp/x"}));
  EXPECT_EQ(last_two(copy_args(relay("r"), "web-01", Copy::kGet, "/tmp/x", "/abs/a:b", false)),
            (Args{"web-01@r:/tmp/x", "/abs/a:b"}));
  // A name starting with '-' comes after "--".
  auto dashed = copy_args(relay("r"), "web-01", Copy::kGet, "/tmp/x", "-rf", false);
  EXPECT_EQ(dashed[dashed.size() - 3], "--");
}

}  // namespace
}  // namespace sb::op
