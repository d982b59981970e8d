// The admin CLI's views of the audit: one line per event, the session and device stories.
#include "relay/admin/audit_view.hpp"

#include <algorithm>

#include "common/json_field.hpp"
#include "common/table.hpp"
#include "common/time.hpp"
#include "common/util.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/system_info_view.hpp"

namespace sb::relay {

using cli::or_dash;
using nlohmann::json;
using store::AuditRow;

namespace {

namespace events = store::events;

// A time from an event's detail (ISO-8601 UTC text) in local time; the text if it is none.
std::string local_time_of(const std::string& iso_utc) {
  const auto t = parse_time(iso_utc);
  return t ? format_local_time(*t) : iso_utc;
}

constexpr std::size_t kMaxShownText = 60;  // longer commands and targets are cut in the table

// detail[key] as text: strings as they are, numbers and booleans in JSON form, "" if absent.
std::string field(const json& detail, const char* key) {
  if (!detail.is_object()) return {};
  auto it = detail.find(key);
  if (it == detail.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::int64_t number(const json& detail, const char* key) {
  if (!detail.is_object()) return 0;
  auto it = detail.find(key);
  return it != detail.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

std::string shorten(const std::string& text) {
  if (text.size() <= kMaxShownText) return text;
  std::size_t cut = kMaxShownText - 1;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return text.substr(0, cut) + "…";
}

std::string bytes_text(std::int64_t in, std::int64_t out) {
  return format_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(in, 0))) + " in / " +
         format_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(out, 0))) + " out";
}

// `exec "uname -a" → exit 0 · 1.2 KiB in / 3.4 KiB out · 0.4 s`
struct ChannelFacts {
  std::string kind, target, command, exit_status, exit_signal, duration;
  std::int64_t bytes_in = 0, bytes_out = 0;
};

std::string describe_channel(const ChannelFacts& c) {
  std::string text = or_dash(c.kind);
  const std::string& what = !c.command.empty() ? c.command : c.target;
  if (!what.empty()) text += " \"" + shorten(what) + "\"";
  if (!c.exit_signal.empty()) {
    text += " → signal " + c.exit_signal;
  } else if (!c.exit_status.empty()) {
    text += " → exit " + c.exit_status;
  }
  text += " · " + bytes_text(c.bytes_in, c.bytes_out);
  if (!c.duration.empty()) text += " · " + c.duration;
  return text;
}

std::string duration_ms_text(const json& detail) {
  if (!detail.is_object() || !detail.contains("duration_ms")) return {};
  return format_elapsed(std::chrono::milliseconds(number(detail, "duration_ms")));
}

// An sftp channel's file names: ` · write /tmp/a, read /tmp/b (12 names)`; "" if none.
std::string files_text(const json& d) {
  if (!d.is_object() || !d.contains("files") || !d["files"].is_array()) return {};
  const json& files = d["files"];
  std::string names;
  for (const json& f : files) {
    if (!names.empty()) names += ", ";
    names += field(f, "op") + " " + field(f, "path");
    if (const std::string to = field(f, "to"); !to.empty()) names += " → " + to;
    if (names.size() > kMaxShownText) break;
  }
  const std::int64_t count = static_cast<std::int64_t>(files.size()) + number(d, "files_more");
  std::string text = names.empty() ? "" : " · " + shorten(names);
  if (count > 1) text += " (" + std::to_string(count) + " names)";
  if (field(d, "files_incomplete") == "true") text += " (names incomplete)";
  return text;
}

std::string describe_channel_event(const json& d) {
  return describe_channel({field(d, "kind"), field(d, "target"), field(d, "command"),
                           field(d, "exit_status"), field(d, "exit_signal"), duration_ms_text(d),
                           number(d, "bytes_in"), number(d, "bytes_out")}) +
         files_text(d);
}

std::string with_reason(std::string text, const json& d) {
  const std::string reason = field(d, "reason");
  return reason.empty() ? text : text + ": " + reason;
}

std::string from_addr(const json& d) {
  const std::string addr = field(d, "source_addr");
  return addr.empty() ? "" : " from " + addr;
}

// Whatever the detail holds beyond the indexed columns, as key=value pairs.
std::string generic(const json& d) {
  std::string text;
  if (!d.is_object()) return text;
  for (const auto& [key, value] : d.items()) {
    if (key == "session" || key == "device" || key == "operator") continue;
    if (!text.empty()) text += " ";
    text += key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return shorten(text);
}

}  // namespace

std::string local_time(Time t) {
  return format_local_time(t);
}

std::string elapsed_between(Time from, const std::optional<Time>& to) {
  if (!to) return {};
  return format_elapsed(*to - from);
}

std::string describe_event(const AuditRow& row) {
  const json& d = row.detail;
  const std::string& k = row.kind;
  if (k == events::kChannelClosed) return describe_channel_event(d);
  if (k == events::kOperatorAttached) return "attached " + or_dash(field(d, "mode")) + from_addr(d);
  if (k == events::kOperatorDetached) {
    std::string text = with_reason("detached", d);
    const std::string after = duration_ms_text(d);
    return after.empty() ? text : text + " after " + after;
  }
  if (k == events::kConsentAsked) {
    const std::string what = field(d, "what");
    return "consent " + field(d, "capability") + ": asked" +
           (what.empty() ? "" : " \"" + shorten(what) + "\"");
  }
  if (k == events::kConsentAnswered) {
    const bool allowed = field(d, "allow") == "true";
    return "consent " + field(d, "capability") + ": " + (allowed ? "allowed" : "declined");
  }
  if (k == events::kSessionIssued)
    return "issued (" + or_dash(field(d, "kind")) + ")" + from_addr(d);
  if (k == events::kSessionEnded) return with_reason("ended", d);
  if (k == events::kSessionKilled) return "killed by " + or_dash(field(d, "by"));
  if (k == events::kDeviceConnected) return "connected" + from_addr(d);
  if (k == events::kDeviceDisconnected) return with_reason("disconnected", d);
  if (k == events::kDeviceRevoked) return "revoked by " + or_dash(field(d, "by"));
  if (k == events::kRecordingStarted)
    return "recording " + field(d, "kind") + " " + field(d, "path");
  if (k == events::kRecordingStopped) {
    const bool cut = field(d, "truncated") == "true";
    const std::string bytes =
        format_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(number(d, "bytes"), 0)));
    const std::string failed = field(d, "failed");
    if (!failed.empty()) {
      return "recording FAILED: " + failed +
             (field(d, "kept") == "false" ? " (no file kept)" : " · " + bytes + " kept");
    }
    return "recording stopped · " + bytes + (cut ? " (truncated)" : "");
  }
  if (k == events::kStoreWriteFailed) {
    return "the disk refused writes since " + local_time_of(field(d, "since")) + " (" +
           field(d, "error") + "); " + std::to_string(number(d, "jobs_waiting")) +
           " waiting jobs written now";
  }
  if (k == events::kStoreDropped) {
    const std::string cause = field(d, "cause");
    return std::to_string(number(d, "dropped")) + " audit writes lost" +
           (cause.empty() ? " (queue full)"
                          : " (queue full; the disk refused writes: " + cause + ")");
  }
  if (k == events::kAuditPruned) {
    return "pruned before " + local_time_of(field(d, "before")) + ": " +
           std::to_string(number(d, "events")) + " events, " +
           std::to_string(number(d, "sessions")) + " sessions" +
           (d.contains("recordings")
                ? ", " + std::to_string(number(d, "recordings")) +
                      (number(d, "recordings") == 1 ? " recording (" : " recordings (") +
                      format_bytes(static_cast<std::uint64_t>(
                          std::max<std::int64_t>(number(d, "recording_bytes"), 0))) +
                      ")"
                : "");
  }
  if (k == events::kAuthRefused || k == events::kAttachRefused || k == events::kEnrollRefused) {
    std::string text = with_reason("refused", d) + from_addr(d);
    const std::string target = field(d, "target");
    return target.empty() ? text : text + " (" + shorten(target) + ")";
  }
  return generic(d);
}

void print_audit_table(const store::AuditPage& page, std::ostream& out) {
  Table table({"TIME", "KIND", "SESSION", "DEVICE", "OPERATOR", "DETAIL"});
  for (const AuditRow& row : page.rows) {
    std::string session = row.session.empty() ? "-" : format_session_id(row.session);
    if (row.recorded) session += " REC";
    table.add({local_time(row.time), row.kind, session, or_dash(row.device),
               or_dash(row.operator_name), describe_event(row)});
  }
  if (table.empty()) {
    out << "No events match.\n";
  } else {
    table.print(out);
  }
  if (page.total == 0) return;
  out << "page " << page.page << " of " << page.pages << " (" << page.total
      << (page.total == 1 ? " row)" : " rows)");
  if (page.page < page.pages) out << "; next: --page " << page.page + 1;
  out << '\n';
}

namespace {

std::string channel_line(const store::ChannelRow& c) {
  ChannelFacts facts{c.kind,        c.target,
                     c.command,     c.exit_status ? std::to_string(*c.exit_status) : "",
                     c.exit_signal, elapsed_between(c.started, c.ended),
                     c.bytes_in,    c.bytes_out};
  return "channel #" + std::to_string(c.id) + " " + local_time(c.started) + "  " +
         describe_channel(facts) + (!c.ended ? " (open)" : "");
}

std::string span_text(Time started, const std::optional<Time>& ended, const std::string& reason) {
  if (!ended) return local_time(started) + " → live";
  std::string text =
      local_time(started) + " → " + local_time(*ended) + " (" + elapsed_between(started, ended);
  return text + (reason.empty() ? ")" : "; " + reason + ")");
}

void print_attachment(const store::AttachmentRow& a, std::ostream& out) {
  out << "  #" << a.id << " " << printable(a.operator_name) << " " << or_dash(a.mode) << " from "
      << printable(or_dash(a.source_addr)) << " key " << a.fingerprint << "\n      "
      << printable(span_text(a.started, a.ended, a.end_reason)) << '\n';
  for (const auto& c : a.channels) out << "      " << printable(channel_line(c)) << '\n';
  if (a.channels.empty()) out << "      (no channels)\n";
}

std::string device_label(const store::SessionRow& s) {
  if (!s.device.empty()) return s.device + " (enrolled)";
  const std::string host = string_field(s.info, "hostname");
  return host.empty() ? "ad hoc" : "ad hoc, host " + host;
}

}  // namespace

std::string live_state(const store::SessionRow& s, std::string (*format)(Time)) {
  if (!s.held_since) return "live";
  return "held (device away since " + format(*s.held_since) + ")";
}

void print_session_story(const store::SessionStory& story, std::ostream& out) {
  const store::SessionRow& s = story.session;
  out << "Session " << format_session_id(s.id) << " (" << (s.ended ? "ended" : live_state(s))
      << ")\n";
  out << "  device:   " << printable(device_label(s)) << '\n';
  out << "  key:      " << s.fingerprint << '\n';
  out << "  from:     " << printable(or_dash(s.source_addr)) << '\n';
  out << "  started:  " << local_time(s.started) << '\n';
  if (!s.ended) {
    out << "  ended:    - (" << live_state(s) << ")\n";
  } else {
    out << "  ended:    " << local_time(*s.ended) << " (after "
        << elapsed_between(s.started, s.ended) << "; " << printable(or_dash(s.end_reason)) << ")\n";
  }
  print_system_info(s.info, out, true);
  out << "\nAttachments (" << story.attachments.size() << "):\n";
  for (const auto& a : story.attachments) print_attachment(a, out);
  if (story.attachments.empty()) out << "  none\n";

  out << "\nEvents (" << story.events.size();
  if (story.events_total > static_cast<std::int64_t>(story.events.size()))
    out << " of " << story.events_total << "; the rest: relay audit --session " << s.id
        << " --reverse";
  out << "):\n";
  Table events({"  TIME", "KIND", "OPERATOR", "DETAIL"});
  for (const AuditRow& e : story.events)
    events.add({"  " + local_time(e.time), e.kind, or_dash(e.operator_name), describe_event(e)});
  if (events.empty()) {
    out << "  none\n";
  } else {
    events.print(out);
  }
  if (story.recordings.empty()) return;
  out << "\nRecordings (" << story.recordings.size() << "):\n";
  for (const auto& r : story.recordings) {
    out << "  " << printable(or_dash(r.path)) << "  " << or_dash(r.kind);
    if (!r.operator_name.empty()) out << " " << printable(r.operator_name);
    out << "  started " << local_time(r.started) << '\n';
    if (!r.failed.empty()) {
      out << "    FAILED: " << printable(r.failed)
          << (r.kept ? " (recorded up to the failure)" : " (nothing recorded, no file)") << '\n';
    }
    if (r.kept) out << "    replay: relay replay " << printable(r.path) << '\n';
  }
}

void print_device_story(const store::DeviceStory& story, std::ostream& out) {
  const store::DeviceRow& d = story.device;
  const json& info = d.info;
  out << "Device " << printable(d.name) << '\n';
  out << "  status:    " << story.status << '\n';
  out << "  last seen: " << (!d.last_seen ? "never" : local_time(*d.last_seen)) << '\n';
  out << "  address:   " << printable(or_dash(story.address)) << '\n';
  std::string os = string_field(info, "os");
  const std::string kernel = string_field(info, "kernel");
  if (!kernel.empty()) os += (os.empty() ? "" : " ") + kernel;
  out << "  host:      " << printable(or_dash(string_field(info, "hostname"))) << '\n';
  out << "  os:        " << printable(or_dash(os)) << '\n';
  out << "  agent:     " << printable(or_dash(string_field(info, "agent_version"))) << '\n';
  out << "  enrolled:  " << local_time(d.enrolled) << '\n';
  out << "  key:       " << d.fingerprint << '\n';
  std::string groups;
  for (const auto& g : d.groups) groups += (groups.empty() ? "" : ", ") + g;
  out << "  groups:    " << or_dash(groups) << '\n';
  print_system_info(info, out, false);
  out << "\nGrants (" << story.grants.size() << "):";
  if (story.grants.empty()) out << " none (no operator may connect by name)";
  for (const auto& g : story.grants) {
    out << ' ' << printable(g.operator_name);
    if (g.device != d.name) out << " (" << printable(g.device) << ')';  // through a group
  }
  out << "\n\nRecent sessions (" << story.recent_sessions.size() << "):\n";
  if (story.recent_sessions.empty()) {
    out << "  none\n";
    return;
  }
  Table table({"  SESSION", "STARTED", "DURATION", "FROM", "OPERATORS", "ENDED BECAUSE"});
  for (const auto& summary : story.recent_sessions) {
    const store::SessionRow& s = summary.session;
    std::string operators;
    for (const auto& name : summary.operators) operators += (operators.empty() ? "" : ",") + name;
    table.add({"  " + format_session_id(s.id), local_time(s.started),
               !s.ended ? live_state(s) : elapsed_between(s.started, s.ended),
               or_dash(s.source_addr), or_dash(operators), or_dash(s.end_reason)});
  }
  table.print(out);
}

}  // namespace sb::relay
