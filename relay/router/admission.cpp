#include "relay/router/admission.hpp"

namespace sb::relay {

bool Admission::early_drop(int roll) const {
  const int total = static_cast<int>(entries_.size());
  if (total < limits_.start) return false;
  if (total >= limits_.full) return true;
  const int span = std::max(1, limits_.full - limits_.start);
  const int percent = limits_.rate + (100 - limits_.rate) * (total - limits_.start) / span;
  return roll < percent;
}

bool Admission::penalised(const Source& source, Clock::time_point now) const {
  return now < source.penalised_until;
}

std::function<void()> Admission::take_idle(const std::string& source, Clock::time_point now) {
  const bool at_once = penalised(sources_[source], now);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    Entry& entry = it->second;
    if (entry.source != source || entry.progressed || !entry.close) continue;
    if (!at_once && now - entry.admitted < limits_.idle_after) continue;
    std::function<void()> close = std::move(entry.close);
    forget(it);
    return close;
  }
  return nullptr;
}

void Admission::forget(std::map<Ticket, Entry>::iterator it) {
  auto source = sources_.find(it->second.source);
  if (source != sources_.end()) --source->second.count;
  entries_.erase(it);
}

void Admission::prune(Clock::time_point now) {
  std::erase_if(sources_, [&](const auto& item) {
    return item.second.count <= 0 && !penalised(item.second, now);
  });
}

std::variant<Admission::Ticket, Admission::Refusal> Admission::admit(const std::string& source,
                                                                     Clock::time_point now,
                                                                     int roll) {
  std::function<void()> evicted;
  Ticket ticket = 0;
  {
    std::lock_guard lock(mu_);
    if (early_drop(roll))
      return Refusal{"too many unauthenticated connections in all (" +
                     std::to_string(entries_.size()) + ")"};
    if (sources_[source].count >= limits_.per_source) {
      evicted = take_idle(source, now);
      if (!evicted)
        return Refusal{"too many unauthenticated connections from this address, none idle"};
    }
    ticket = next_ticket_++;
    if (ticket % 1024 == 0) prune(now);
    entries_.emplace(ticket, Entry{source, now, false, nullptr});
    ++sources_[source].count;
  }
  if (evicted) evicted();
  return ticket;
}

void Admission::track(Ticket ticket, std::function<void()> close) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(ticket); it != entries_.end()) it->second.close = std::move(close);
}

void Admission::progressed(Ticket ticket) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(ticket); it != entries_.end()) it->second.progressed = true;
}

void Admission::leave(Ticket ticket, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(ticket);
  if (it == entries_.end()) return;  // evicted already, or left twice
  Source& source = sources_[it->second.source];
  if (!it->second.progressed) source.penalised_until = now + limits_.penalty;
  const std::string name = it->second.source;
  forget(it);
  if (source.count <= 0 && !penalised(source, now)) sources_.erase(name);
}

std::chrono::milliseconds Admission::deadline(Ticket ticket, std::chrono::milliseconds configured,
                                              Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(ticket);
  if (it == entries_.end()) return configured;
  auto source = sources_.find(it->second.source);
  const bool pressed = static_cast<int>(entries_.size()) >= limits_.start ||
                       (source != sources_.end() && (source->second.count >= limits_.per_source ||
                                                     penalised(source->second, now)));
  return pressed ? std::min(configured, limits_.pressed_deadline) : configured;
}

int Admission::unauthenticated() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(entries_.size());
}

int Admission::unauthenticated_from(const std::string& source) const {
  std::lock_guard lock(mu_);
  auto it = sources_.find(source);
  return it == sources_.end() ? 0 : it->second.count;
}

}  // namespace sb::relay
