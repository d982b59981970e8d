// The catalogue of audit event kinds: each kind's name and the keys of its detail object. Every
// writer names its kind from here (Db::add_event takes an EventKind, not a string) and `relay
// audit` reads with the same names, so a writer and the reader cannot drift apart.
//
// It lives in relay/store, not relay/audit, because the store is below the audit layer and
// writes events itself inside its transactions (session.ended, keys.purged, device.enrolled,
// ...): the one catalogue must be visible to both.
#pragma once
#include <array>
#include <string_view>

namespace sb::store {

struct EventKind {
  // Explicit, so that a bare string literal is never taken for a kind: a new kind goes into
  // the catalogue below (tests may make ad-hoc kinds with EventKind("test.x")).
  explicit constexpr EventKind(std::string_view kind_name, std::string_view detail_fields = {})
      : name(kind_name), fields(detail_fields) {}
  std::string_view name;    // "family.verb": `relay audit --kind family` selects the family
  std::string_view fields;  // keys of the detail object, space-separated; optional ones in []
};

inline bool operator==(std::string_view name, const EventKind& kind) {
  return name == kind.name;
}

namespace events {
// Authentication and access (operators and devices knocking). Each refused authentication
// request is one auth.refused (stage: "offered" for a key offered without a signature, "signed",
// "method" for a method other than public key, "unanswered" for a request libssh dropped); each
// operator attempt to join a session is one operator.attached or one attach.refused, with what
// the guessing guard did to it (held_ms before the lookup, penalty_ms on top of the uniform
// delay).
inline constexpr EventKind kAuthRefused{"auth.refused",
                                        "user fingerprint source_addr reason [stage]"};
inline constexpr EventKind kAttachRefused{
    "attach.refused", "operator fingerprint source_addr target [reason] [held_ms] [penalty_ms]"};
// Written by earlier relays, as a second record of a rate-limited attempt; now its delays are
// part of that attempt's attach.refused (or operator.attached). Old rows still read by this name.
inline constexpr EventKind kRateLimitHit{"ratelimit.hit",
                                         "operator fingerprint source_addr target by delay_ms"};
// Operators on a session.
inline constexpr EventKind kOperatorAttached{
    "operator.attached",
    "session device operator fingerprint mode source_addr attachment [held_ms]"};
inline constexpr EventKind kOperatorDetached{
    "operator.detached",
    "session device operator fingerprint mode source_addr attachment reason duration_ms"};
inline constexpr EventKind kChannelClosed{
    "channel.closed",
    "session device operator attachment channel kind target bytes_in bytes_out started "
    "duration_ms [command] [exit_status] [exit_signal] [reason]"};
inline constexpr EventKind kConsentAsked{
    "consent.asked", "session device operator fingerprint attachment capability what"};
inline constexpr EventKind kConsentAnswered{
    "consent.answered", "session device operator fingerprint attachment capability allow"};
// Devices and their sessions.
inline constexpr EventKind kDeviceConnected{"device.connected",
                                            "session device fingerprint source_addr kind"};
inline constexpr EventKind kDeviceDisconnected{"device.disconnected",
                                               "session device fingerprint reason"};
// An ad-hoc tunnel dropped without a goodbye: its session ID is held for grace_ms for the agent
// to resume (device.resumed) or refused (device.resume_refused: wrong proof, or no longer held,
// and the agent got a new ID). A hold that runs out ends as device.disconnected.
inline constexpr EventKind kDeviceInterrupted{"device.interrupted",
                                              "session device fingerprint reason grace_ms"};
inline constexpr EventKind kDeviceResumed{"device.resumed",
                                          "session device fingerprint source_addr away_ms"};
inline constexpr EventKind kDeviceResumeRefused{"device.resume_refused",
                                                "session fingerprint source_addr reason"};
// A use of an enrollment token (use of max_uses; hostname as the agent reported it; group the
// token put the device in).
inline constexpr EventKind kDeviceEnrolled{
    "device.enrolled",
    "device fingerprint replaced_revoked [token] [use] [max_uses] [hostname] [group]"};
inline constexpr EventKind kDeviceRevoked{"device.revoked", "device fingerprint by"};
inline constexpr EventKind kServiceRegistered{"service.registered",
                                              "session device fingerprint service port"};
inline constexpr EventKind kServiceWithdrawn{"service.withdrawn",
                                             "session device fingerprint service port"};
inline constexpr EventKind kSessionIssued{"session.issued", "session device kind source_addr"};
inline constexpr EventKind kSessionEnded{"session.ended", "session device reason"};
inline constexpr EventKind kSessionKilled{"session.killed", "session device by [operator]"};
// Keys and the janitor.
inline constexpr EventKind kKeysPurged{"keys.purged", "fingerprints [session] [sessions] [reason]"};
inline constexpr EventKind kJanitorPurge{
    "janitor.purge", "reason keys_purged [sessions_ended] [by] [tunnels_closed]"};
// Enrollment, operators and grants (the admin CLI and device enrollment).
// name is "" for a token that names each device after its hostname (from_hostname).
inline constexpr EventKind kEnrollCreated{
    "enroll.created", "name expires [token] [from_hostname] [max_uses] [group]"};
inline constexpr EventKind kEnrollRefused{"enroll.refused",
                                          "reason fingerprint [name] [token] [hostname]"};
inline constexpr EventKind kEnrollRevoked{"enroll.revoked", "token by [name]"};
inline constexpr EventKind kOperatorAdded{"operator.added", "operator fingerprint"};
inline constexpr EventKind kOperatorRemoved{"operator.removed", "operator"};
// A grant names a device, or a group (every device in it, present and future).
inline constexpr EventKind kGrantAdded{"grant.added", "operator [device] [group]"};
inline constexpr EventKind kGrantRemoved{"grant.removed", "operator [device] [group]"};
// Groups of devices.
inline constexpr EventKind kDeviceGrouped{"device.grouped", "device group by"};
inline constexpr EventKind kDeviceUngrouped{"device.ungrouped", "device group by"};
// Recordings and the audit's own upkeep.
inline constexpr EventKind kRecordingStarted{"recording.started",
                                             "session device [operator] [attachment] path kind"};
inline constexpr EventKind kRecordingStopped{
    "recording.stopped",
    "session device [operator] [attachment] path kind bytes truncated duration_ms [dropped] "
    "[reason] [failed] [kept]"};
inline constexpr EventKind kAuditPruned{
    "audit.pruned",
    "before events sessions attachments channels [recordings] [recording_bytes] "
    "[recordings_failed]"};
// Jobs (audit rows) the store could not keep: refused while its queue was full, e.g. during a
// long stretch of a full disk (cause: the disk's error then).
inline constexpr EventKind kStoreDropped{"store.dropped", "dropped dropped_total [cause]"};
// The disk refused the store's writes from `since` until this event (which is written with the
// first batch that got through): what waited meanwhile was kept and is written now.
inline constexpr EventKind kStoreWriteFailed{"store.write_failed",
                                             "error since attempts jobs_waiting"};

inline constexpr std::array kAll{
    kAuthRefused,         kAttachRefused,      kRateLimitHit,      kOperatorAttached,
    kOperatorDetached,    kChannelClosed,      kConsentAsked,      kConsentAnswered,
    kDeviceConnected,     kDeviceDisconnected, kDeviceEnrolled,    kDeviceRevoked,
    kServiceRegistered,   kServiceWithdrawn,   kSessionIssued,     kSessionEnded,
    kSessionKilled,       kKeysPurged,         kJanitorPurge,      kEnrollCreated,
    kEnrollRefused,       kOperatorAdded,      kOperatorRemoved,   kGrantAdded,
    kGrantRemoved,        kRecordingStarted,   kRecordingStopped,  kAuditPruned,
    kStoreDropped,        kStoreWriteFailed,   kDeviceInterrupted, kDeviceResumed,
    kDeviceResumeRefused, kEnrollRevoked,      kDeviceGrouped,     kDeviceUngrouped};

// The catalogued kind with this name, or nullptr.
constexpr const EventKind* find(std::string_view name) {
  for (const EventKind& kind : kAll)
    if (kind.name == name) return &kind;
  return nullptr;
}
}  // namespace events

}  // namespace sb::store
