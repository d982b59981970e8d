// How the admin CLI shows the audit: the `relay audit` table, the story of a session
// (`relay session show`) and of a device (`relay device show`). Times are shown in local time,
// durations and sizes in human units. --json (row_json.hpp) keeps the stored UTC times and raw
// numbers.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "common/time.hpp"
#include "relay/store/store.hpp"

namespace sb::relay {

// "2026-11-22 14:30:05" (local).
std::string local_time(Time t);
// Human duration from one time to another ("" while there is no end).
std::string elapsed_between(Time from, const std::optional<Time>& to);
// A session not ended: "live", or "held (device away since TIME)" while its ID waits for its
// device to resume (TIME as `format` writes it).
std::string live_state(const store::SessionRow& s, std::string (*format)(Time) = local_time);

// The DETAIL column: what happened in a few words, e.g.
// `exec "uname -a" → exit 0 · 1.2 KiB in / 3.4 KiB out · 0.4 s`.
std::string describe_event(const store::AuditRow& row);

// TIME, KIND, SESSION, DEVICE, OPERATOR, DETAIL (REC after a session that has a recording),
// then a footer "page 2 of 7 (312 rows); next: --page 3".
void print_audit_table(const store::AuditPage& page, std::ostream& out);

void print_session_story(const store::SessionStory& story, std::ostream& out);

void print_device_story(const store::DeviceStory& story, std::ostream& out);

}  // namespace sb::relay
