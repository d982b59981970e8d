// The audit's read side and its retention: filtered, paged events; the story of one session
// (attachments, channels, events, recordings); the story of one device; pruning old rows.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json_field.hpp"
#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::read_session;
using detail::session_columns;
using detail::Statement;

namespace {

constexpr std::size_t kMaxFilterText = 256;

// An optional bound as the queries compare it: "" when there is none ("?N = '' OR ...", and
// "" sorts before every time).
std::string as_bound(const std::optional<Time>& t) {
  return t ? iso8601_utc(*t) : std::string();
}

const std::string kEventColumns =
    "e.id, e.time, e.kind, e.actor, e.session_id, e.device, e.operator, e.detail_json, "
    "EXISTS (SELECT 1 FROM events r WHERE r.session_id = e.session_id AND r.kind = '" +
    std::string(events::kRecordingStarted.name) + "')";

AuditRow read_event(const Statement& st) {
  AuditRow row;
  row.id = st.int64(0);
  row.time = st.time(1);
  row.kind = st.text(2);
  row.actor = st.text(3);
  row.session = st.text(4);
  row.device = st.text(5);
  row.operator_name = st.text(6);
  row.detail = st.json(7);
  row.recorded = st.int64(8) != 0;
  return row;
}

// The smallest string greater than every string starting with prefix ("" if there is none):
// a prefix match as a range the index on kind can serve, with no LIKE escaping.
std::string prefix_upper_bound(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty())
    prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// A WHERE clause with its parameters, numbered ?1, ?2, ... in order.
struct Where {
  std::string sql;
  std::vector<std::string> params;

  std::string param(std::string value) {
    params.push_back(std::move(value));
    return "?" + std::to_string(params.size());
  }
  void add(const std::string& clause) { sql += (sql.empty() ? " WHERE " : " AND ") + clause; }
  void bind(Statement& st) const {
    for (std::size_t i = 0; i < params.size(); ++i) st.bind(static_cast<int>(i) + 1, params[i]);
  }
};

void check_text(const std::string& value, const char* what) {
  if (value.size() > kMaxFilterText) {
    throw std::invalid_argument(std::string(what) + " is longer than " +
                                std::to_string(kMaxFilterText) + " characters");
  }
}

Where audit_where(const AuditFilter& f) {
  check_text(f.device, "device");
  check_text(f.operator_name, "operator");
  check_text(f.session, "session");
  if (f.kinds.size() > kMaxAuditKinds) {
    throw std::invalid_argument("at most " + std::to_string(kMaxAuditKinds) + " kinds");
  }
  Where w;
  if (!f.device.empty()) w.add("e.device = " + w.param(f.device));
  if (!f.operator_name.empty()) w.add("e.operator = " + w.param(f.operator_name));
  if (!f.session.empty()) w.add("e.session_id = " + w.param(f.session));
  if (f.since) w.add("e.time >= " + w.param(iso8601_utc(*f.since)));
  if (f.until) w.add("e.time < " + w.param(iso8601_utc(*f.until)));
  std::string any_kind;
  for (const std::string& kind : f.kinds) {
    check_text(kind, "kind");
    if (kind.empty()) continue;
    const std::string upper = prefix_upper_bound(kind);
    std::string range = "e.kind >= " + w.param(kind);
    if (!upper.empty()) range += " AND e.kind < " + w.param(upper);
    any_kind += (any_kind.empty() ? "(" : " OR (") + range + ")";
  }
  if (!any_kind.empty()) w.add("(" + any_kind + ")");
  return w;
}

std::vector<ChannelRow> channels_of(SqliteDb& db, std::int64_t attachment) {
  Statement st(db,
               "SELECT id, attachment, kind, target, command, exit_status, exit_signal, "
               "bytes_in, bytes_out, started, ended FROM channels "
               "WHERE attachment = ?1 ORDER BY started, id");
  st.bind(1, attachment);
  std::vector<ChannelRow> rows;
  while (st.step()) {
    ChannelRow c;
    c.id = st.int64(0);
    c.attachment = st.int64(1);
    c.kind = st.text(2);
    c.target = st.text(3);
    c.command = st.text(4);
    if (!st.is_null(5)) c.exit_status = st.int64(5);
    c.exit_signal = st.text(6);
    c.bytes_in = st.int64(7);
    c.bytes_out = st.int64(8);
    c.started = st.time(9);
    c.ended = st.opt_time(10);
    rows.push_back(std::move(c));
  }
  return rows;
}

// Attachments of the session with this ID that started in [from, to) (to = nullopt: no end).
std::vector<AttachmentRow> attachments_of(SqliteDb& db, const std::string& id,
                                          const std::optional<Time>& from,
                                          const std::optional<Time>& to) {
  Statement st(db,
               "SELECT id, session_id, operator, fingerprint, mode, source_addr, started, ended, "
               "end_reason FROM attachments WHERE session_id = ?1 AND started >= ?2 "
               "AND (?3 = '' OR started < ?3) ORDER BY started, id");
  st.bind(1, id).bind(2, as_bound(from)).bind(3, as_bound(to));
  std::vector<AttachmentRow> rows;
  while (st.step()) {
    AttachmentRow a;
    a.id = st.int64(0);
    a.session_id = st.text(1);
    a.operator_name = st.text(2);
    a.fingerprint = st.text(3);
    a.mode = st.text(4);
    a.source_addr = st.text(5);
    a.started = st.time(6);
    a.ended = st.opt_time(7);
    a.end_reason = st.text(8);
    rows.push_back(std::move(a));
  }
  for (AttachmentRow& a : rows) a.channels = channels_of(db, a.id);
  return rows;
}

std::vector<AuditRow> events_of(SqliteDb& db, const std::string& id, Time from,
                                const std::optional<Time>& to) {
  Statement st(db, std::string("SELECT ") + kEventColumns +
                       " FROM events e WHERE e.session_id = ?1 AND e.time >= ?2 "
                       "AND (?3 = '' OR e.time < ?3) ORDER BY e.time, e.id LIMIT ?4");
  st.bind(1, id).bind(2, from).bind(3, as_bound(to)).bind(4, kMaxStoryEvents);
  std::vector<AuditRow> rows;
  while (st.step()) rows.push_back(read_event(st));
  return rows;
}

std::int64_t count_events_of(SqliteDb& db, const std::string& id, Time from,
                             const std::optional<Time>& to) {
  Statement st(db,
               "SELECT count(*) FROM events WHERE session_id = ?1 AND time >= ?2 "
               "AND (?3 = '' OR time < ?3)");
  st.bind(1, id).bind(2, from).bind(3, as_bound(to));
  return st.step() ? st.int64(0) : 0;
}

// Each recording.started, marked by its recording.stopped if the disk refused it.
std::vector<RecordingRef> recordings_in(const std::vector<AuditRow>& events) {
  std::vector<RecordingRef> out;
  for (const AuditRow& e : events) {
    if (e.kind == events::kRecordingStarted.name) {
      out.push_back({string_field(e.detail, "path"), string_field(e.detail, "kind"),
                     e.operator_name, e.time});
      continue;
    }
    const std::string failed = string_field(e.detail, "failed");
    if (e.kind != events::kRecordingStopped.name || failed.empty()) continue;
    const std::string path = string_field(e.detail, "path");
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      if (it->path != path || !it->failed.empty()) continue;
      it->failed = failed;
      it->kept = e.detail.value("kept", true);
      break;
    }
  }
  return out;
}

std::vector<std::string> operators_of(SqliteDb& db, const SessionRow& s) {
  Statement st(db,
               "SELECT operator FROM attachments WHERE session_id = ?1 AND started >= ?2 "
               "AND (?3 = '' OR started <= ?3) GROUP BY operator ORDER BY min(started)");
  st.bind(1, s.id).bind(2, s.started).bind(3, as_bound(s.ended));
  std::vector<std::string> names;
  while (st.step()) names.push_back(st.text(0));
  return names;
}

}  // namespace

AuditPage SqliteDb::query_audit(const AuditFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxAuditLimit) {
    throw std::invalid_argument("limit must be between 1 and " + std::to_string(kMaxAuditLimit));
  }
  if (filter.page < 1) throw std::invalid_argument("page must be 1 or more");
  const Where where = audit_where(filter);
  AuditPage page;
  page.page = filter.page;
  {
    Statement st(*this, "SELECT count(*) FROM events e" + where.sql);
    where.bind(st);
    page.total = st.step() ? st.int64(0) : 0;
  }
  page.pages = static_cast<int>((page.total + filter.limit - 1) / filter.limit);
  const std::string order = filter.oldest_first ? "ASC" : "DESC";
  const std::string limits =
      " LIMIT " + std::to_string(filter.limit) + " OFFSET " +
      std::to_string(static_cast<std::int64_t>(filter.page - 1) * filter.limit);
  Statement st(*this, std::string("SELECT ") + kEventColumns + " FROM events e" + where.sql +
                          " ORDER BY e.time " + order + ", e.id " + order + limits);
  where.bind(st);
  while (st.step()) page.rows.push_back(read_event(st));
  return page;
}

std::vector<SessionStory> SqliteDb::session_stories(const std::string& id, bool all) {
  std::vector<SessionRow> sessions;
  {
    Statement st(*this, std::string("SELECT ") + session_columns() +
                            " FROM sessions WHERE id = ?1 ORDER BY started DESC");
    st.bind(1, id);
    while (st.step()) sessions.push_back(read_session(st));
  }
  std::vector<SessionStory> stories;
  std::optional<Time> next_started;  // a reused ID's story ends where the next one began
  for (SessionRow& s : sessions) {
    SessionStory story;
    story.attachments = attachments_of(*this, id, s.started, next_started);
    story.events = events_of(*this, id, s.started, next_started);
    story.events_total = count_events_of(*this, id, s.started, next_started);
    story.recordings = recordings_in(story.events);
    next_started = s.started;
    story.session = std::move(s);
    stories.push_back(std::move(story));
    if (!all) break;
  }
  return stories;
}

std::optional<DeviceStory> SqliteDb::device_story(const std::string& name, int recent_sessions) {
  auto device = find_device(name);
  if (!device) return std::nullopt;
  DeviceStory story;
  story.device = std::move(*device);
  {
    Statement st(*this, std::string("SELECT ") + session_columns() +
                            " FROM sessions WHERE device = ?1 ORDER BY started DESC LIMIT ?2");
    st.bind(1, name).bind(2, std::max(recent_sessions, 1));
    while (st.step()) story.recent_sessions.push_back({read_session(st), {}});
  }
  for (SessionSummary& s : story.recent_sessions) s.operators = operators_of(*this, s.session);
  const bool live = std::any_of(story.recent_sessions.begin(), story.recent_sessions.end(),
                                [](const SessionSummary& s) { return !s.session.ended; });
  story.status = story.device.status == "revoked" ? "revoked" : live ? "online" : "offline";
  story.address = story.recent_sessions.empty() ? string_field(story.device.info, "address")
                                                : story.recent_sessions.front().session.source_addr;
  // Its own grants, then those it has through its groups (device "@GROUP").
  const std::vector<std::string>& groups = story.device.groups;
  for (GrantRow& g : list_grants()) {
    const bool via_group =
        !g.device.empty() && g.device.front() == kGroupGrantPrefix &&
        std::find(groups.begin(), groups.end(), g.device.substr(1)) != groups.end();
    if (g.device == name || via_group) story.grants.push_back(std::move(g));
  }
  if (recent_sessions < 1) story.recent_sessions.clear();
  return story;
}

PruneResult& PruneResult::operator+=(const PruneResult& other) {
  events += other.events;
  sessions += other.sessions;
  attachments += other.attachments;
  channels += other.channels;
  return *this;
}

namespace {

// An attachment (and an event) belongs to a live session if it carries that session's ID and
// is not older than the session: an ended session with the same ID came before it.
std::string prunable_attachment(const std::string& a) {
  return a + ".ended IS NOT NULL AND " + a + ".ended < ?1 AND NOT EXISTS (SELECT 1 FROM " +
         "sessions s WHERE s.ended IS NULL AND s.id = " + a + ".session_id AND " + a +
         ".started >= s.started)";
}

std::int64_t prune_channels(SqliteDb& db, Time cutoff, int limit) {
  return Statement(db,
                   "DELETE FROM channels WHERE id IN (SELECT c.id FROM attachments a "
                   "JOIN channels c ON c.attachment = a.id WHERE " +
                       prunable_attachment("a") +
                       " UNION ALL SELECT id FROM channels WHERE attachment IS NULL AND "
                       "ended IS NOT NULL AND ended < ?1 LIMIT ?2)")
      .bind(1, cutoff)
      .bind(2, limit)
      .run();
}

// Runs once every channel of a prunable attachment is gone (the stage before).
std::int64_t prune_attachments(SqliteDb& db, Time cutoff, int limit) {
  return Statement(db,
                   "DELETE FROM attachments WHERE id IN (SELECT a.id FROM attachments a "
                   "WHERE " +
                       prunable_attachment("a") + " LIMIT ?2)")
      .bind(1, cutoff)
      .bind(2, limit)
      .run();
}

std::int64_t prune_sessions(SqliteDb& db, Time cutoff, int limit) {
  return Statement(db,
                   "DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions "
                   "WHERE ended IS NOT NULL AND ended < ?1 LIMIT ?2)")
      .bind(1, cutoff)
      .bind(2, limit)
      .run();
}

// Looks at up to limit events after the cursor, deletes those no live session holds and moves
// the cursor past them. Returns how many it deleted; scanned tells how many it looked at.
std::int64_t prune_events(SqliteDb& db, Time cutoff, PruneCursor& cursor, int limit, int& scanned) {
  std::vector<std::int64_t> doomed;
  scanned = 0;
  {
    Statement st(db,
                 "SELECT e.id, e.time, EXISTS (SELECT 1 FROM sessions s WHERE s.ended IS NULL "
                 "AND s.id = e.session_id AND e.time >= s.started) FROM events e "
                 "WHERE e.time < ?1 AND (e.time > ?2 OR (e.time = ?2 AND e.id > ?3)) "
                 "ORDER BY e.time, e.id LIMIT ?4");
    st.bind(1, cutoff).bind(2, as_bound(cursor.event_time)).bind(3, cursor.event_id).bind(4, limit);
    while (st.step()) {
      ++scanned;
      cursor.event_id = st.int64(0);
      cursor.event_time = st.time(1);
      if (st.int64(2) == 0) doomed.push_back(cursor.event_id);
    }
  }
  for (std::int64_t id : doomed)
    Statement(db, "DELETE FROM events WHERE id = ?1").bind(1, id).run();
  return static_cast<std::int64_t>(doomed.size());
}

}  // namespace

PruneResult SqliteDb::prune_audit_batch(Time cutoff, PruneCursor& cursor, int max_rows) {
  if (max_rows < 1) throw std::invalid_argument("prune_audit: max_rows must be 1 or more");
  using Stage = PruneCursor::Stage;
  PruneResult result;
  std::int64_t budget = max_rows;
  // Each stage either finishes (deletes fewer rows than it may) and hands the rest of the
  // budget on, or uses it all up and resumes there next batch.
  const auto step = [&](std::int64_t deleted, Stage next) {
    budget -= deleted;
    if (budget > 0) cursor.stage = next;
    return budget > 0;
  };
  if (cursor.stage == Stage::kChannels) {
    result.channels = prune_channels(*this, cutoff, static_cast<int>(budget));
    if (!step(result.channels, Stage::kAttachments)) return result;
  }
  if (cursor.stage == Stage::kAttachments) {
    result.attachments = prune_attachments(*this, cutoff, static_cast<int>(budget));
    if (!step(result.attachments, Stage::kSessions)) return result;
  }
  if (cursor.stage == Stage::kSessions) {
    result.sessions = prune_sessions(*this, cutoff, static_cast<int>(budget));
    if (!step(result.sessions, Stage::kEvents)) return result;
  }
  if (cursor.stage == Stage::kEvents) {
    int scanned = 0;
    const int limit = static_cast<int>(budget);
    result.events = prune_events(*this, cutoff, cursor, limit, scanned);
    if (scanned < limit) cursor.stage = Stage::kDone;
  }
  return result;
}

void SqliteDb::record_prune(Time cutoff, const PruneResult& total, const nlohmann::json& extra,
                            Time when) {
  nlohmann::json detail{{"before", iso8601_utc(cutoff)},
                        {"events", total.events},
                        {"sessions", total.sessions},
                        {"attachments", total.attachments},
                        {"channels", total.channels}};
  if (extra.is_object()) detail.update(extra);
  add_event(events::kAuditPruned, "relay", detail, when);
}

PruneResult SqliteDb::prune_audit(Time cutoff, Time when) {
  PruneResult total;
  PruneCursor cursor;
  while (!cursor.done()) transaction([&] { total += prune_audit_batch(cutoff, cursor); });
  if (total.rows() > 0) record_prune(cutoff, total, nlohmann::json::object(), when);
  return total;
}

std::vector<SessionSpan> SqliteDb::session_spans(const std::string& id) {
  Statement st(*this, "SELECT started, ended FROM sessions WHERE id = ?1 ORDER BY started");
  st.bind(1, id);
  std::vector<SessionSpan> spans;
  while (st.step()) spans.push_back({st.time(0), st.opt_time(1)});
  return spans;
}

// The same readers `relay session show` uses, for callers that want one session's rows.
std::vector<AttachmentRow> SqliteDb::attachment_rows(const std::string& session_id) {
  return attachments_of(*this, session_id, std::nullopt, std::nullopt);
}

std::vector<ChannelRow> SqliteDb::channel_rows(std::int64_t attachment) {
  return channels_of(*this, attachment);
}

}  // namespace sb::store
