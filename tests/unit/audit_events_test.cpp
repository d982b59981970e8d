// The catalogue of audit event kinds (relay/store/audit_events.hpp).
#include "relay/store/audit_events.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sb::store {
namespace {

bool lower_word(std::string_view w) {
  if (w.empty()) return false;
  for (char c : w)
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  return true;
}

TEST(AuditEvents, NamesAreUniqueAndFamilyDotVerb) {
  std::set<std::string_view> seen;
  for (const EventKind& kind : events::kAll) {
    EXPECT_TRUE(seen.insert(kind.name).second) << kind.name << " listed twice";
    const auto dot = kind.name.find('.');
    ASSERT_NE(dot, std::string_view::npos) << kind.name;
    EXPECT_TRUE(lower_word(kind.name.substr(0, dot))) << kind.name;
    EXPECT_TRUE(lower_word(kind.name.substr(dot + 1))) << kind.name;
  }
}

TEST(AuditEvents, EveryKindNamesItsFields) {
  for (const EventKind& kind : events::kAll) {
    EXPECT_FALSE(kind.fields.empty()) << kind.name;
    for (char c : kind.fields) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_' || c == ' ' || c == '[' || c == ']')
          << kind.name << ": " << kind.fields;
    }
  }
}

TEST(AuditEvents, FindsByName) {
  ASSERT_NE(events::find("session.ended"), nullptr);
  EXPECT_EQ(events::find("session.ended")->name, events::kSessionEnded.name);
  EXPECT_EQ(events::find("session"), nullptr);
  EXPECT_EQ(events::find(""), nullptr);
  EXPECT_EQ(events::find("test.kind"), nullptr);
}

TEST(AuditEvents, StoredNamesCompareWithTheCatalogue) {
  const std::string stored = "channel.closed";
  EXPECT_TRUE(stored == events::kChannelClosed);
  EXPECT_FALSE(std::string("channel.close") == events::kChannelClosed);
}

// The names are what the audit table already holds and what `relay audit --kind` matches:
// they must never change for a kind that has shipped.
TEST(AuditEvents, ShippedNamesStay) {
  EXPECT_EQ(events::kAuthRefused.name, "auth.refused");
  EXPECT_EQ(events::kOperatorAttached.name, "operator.attached");
  EXPECT_EQ(events::kRecordingStarted.name, "recording.started");
  EXPECT_EQ(events::kJanitorPurge.name, "janitor.purge");
  EXPECT_EQ(events::kStoreDropped.name, "store.dropped");
  EXPECT_EQ(events::kStoreWriteFailed.name, "store.write_failed");
  EXPECT_EQ(events::kDeviceInterrupted.name, "device.interrupted");
  EXPECT_EQ(events::kDeviceResumed.name, "device.resumed");
  EXPECT_EQ(events::kDeviceResumeRefused.name, "device.resume_refused");
  EXPECT_EQ(events::kEnrollRevoked.name, "enroll.revoked");
  EXPECT_EQ(events::kDeviceGrouped.name, "device.grouped");
  EXPECT_EQ(events::kDeviceUngrouped.name, "device.ungrouped");
  EXPECT_EQ(events::kAll.size(), 36u);
}

}  // namespace
}  // namespace sb::store
