#include "device-agent/consent_prompt.hpp"

#include <iostream>

#include "common/json_field.hpp"
#include "common/names.hpp"
#include "device-agent/relay_message.hpp"

namespace sb::agent {

namespace {
constexpr std::size_t kMaxAnswerLine = 256;

std::string safe(const nlohmann::json& request, const char* field) {
  std::string value = string_field(request, field, "?");
  return valid_label(value) ? value : "?";
}
}  // namespace

ConsentPrompt::ConsentPrompt(boost::asio::any_io_executor executor, Answer answer)
    : answer_(std::move(answer)), input_(platform::open_console_input(executor, kMaxAnswerLine)) {
  if (!input_) input_closed_ = true;
}

ConsentPrompt::~ConsentPrompt() = default;

std::string ConsentPrompt::question(const nlohmann::json& request) {
  std::string who = safe(request, "operator") + " (" + safe(request, "fingerprint") + ")";
  std::string capability = safe(request, "capability");
  std::string what = safe(request, "what");
  std::string asks;
  if (capability == "shell")
    asks = "asks for a shell";
  else if (capability == "exec")
    asks = "asks to run a command: " + what;
  else if (capability == "screen")
    asks = "asks to see your screen";
  else if (capability == "proxy")
    asks = "asks to use your network (" + what + ")";
  else
    asks = "asks for " + capability;
  return who + " " + asks + " - allow? [y/N] ";
}

void ConsentPrompt::ask(const nlohmann::json& request) {
  queue_.push_back(request);
  if (!asking_) next();
}

void ConsentPrompt::expired(const nlohmann::json&) {
  if (!asking_) return;
  std::cout << "\n(no answer in time: refused)" << std::endl;
  if (!queue_.empty()) queue_.pop_front();
  asking_ = false;
  next();
}

void ConsentPrompt::clear() {
  queue_.clear();
  asking_ = false;
}

void ConsentPrompt::next() {
  if (queue_.empty()) return;
  auto id = consent_request_id(queue_.front());
  if (input_closed_) {
    queue_.pop_front();
    answer_(id, false);
    return next();
  }
  asking_ = true;
  std::cout << question(queue_.front()) << std::flush;
  input_->read_line([this](bool ok, std::string line) { on_line(ok, std::move(line)); });
}

void ConsentPrompt::on_line(bool ok, std::string line) {
  if (!ok) {
    input_closed_ = true;  // EOF, or a line longer than we accept
    line.clear();
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  bool allow = line == "y" || line == "Y" || line == "yes" || line == "YES" || line == "Yes";
  if (!asking_ || queue_.empty()) return;  // the question expired meanwhile
  auto id = consent_request_id(queue_.front());
  queue_.pop_front();
  asking_ = false;
  std::cout << (allow ? "Allowed." : "Refused.") << std::endl;
  answer_(id, allow);
  next();
}

}  // namespace sb::agent
