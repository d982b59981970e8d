// The device side of a connection: its control channel (JSON lines), the hello it sends, the
// session it is given, liveness pings and the end of the session.
//
// Protocol (one JSON object per line on the "switchboard-agent" subsystem channel):
//   agent -> relay  {"type":"hello","version":1,"kind":"adhoc"|"enrolled","name":N?,
//                    "enroll_token":T?,"info":{hostname,os,kernel,arch,agent_version}}
//   relay -> agent  {"type":"session","id":"482913075","device":N|null,"check_interval_ms":..,
//                    "resume_token":"sbr_..."?,"resumed":true?,"resume_refused":"why"?}
//                   {"type":"error","message":"..."}   (then the relay closes the connection)
//   agent -> relay  {"type":"bye"}        (a deliberate end: the session ends at once)
//   agent -> relay  {"type":"info","info":{...}}   (the hello's info again, after it changed;
//                   stored at most once per kInfoUpdateInterval, ignored before the session)
//
// Resuming (ad hoc, serve --grace > 0): the session message carries a resume token. When the
// tunnel drops without a bye, the ID is held for the grace period; an agent that comes back
// with the same key and {"resume":{"session":ID,"token":T}} in its hello gets the same ID (and a
// new token). A refused resume gets a new ID in the same answer, with resume_refused saying why.
//   relay -> agent  {"type":"ping"}      agent -> relay {"type":"pong"}
//   relay -> agent  {"type":"ended","reason":"..."}   (the administrator ended the session;
//                   the relay closes the tunnel shortly after)
//
// Agentless devices (plain OpenSSH: `ssh -N -R screen:5900:localhost:5900 device@relay`) have no
// control channel: they get their session at authentication (announced in a userauth banner),
// register named services with tcpip-forward, and are kept alive with keepalive@openssh.com
// global requests. A shell request from them shows the session ID and the services.
#pragma once
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/ssh/channel.hpp"
#include "common/ssh/line_channel.hpp"
#include "common/ssh/message.hpp"
#include "relay/bridge/shared_terminal.hpp"
#include "relay/device/device_messages.hpp"
#include "relay/device/device_services.hpp"
#include "relay/device/member.hpp"
#include "relay/store/audit_events.hpp"

namespace sb::relay {

class DeviceTunnel {
 public:
  explicit DeviceTunnel(PeerConn& conn);
  ~DeviceTunnel();
  DeviceTunnel(const DeviceTunnel&) = delete;
  DeviceTunnel& operator=(const DeviceTunnel&) = delete;

  PeerConn& conn() { return conn_; }
  // The typed handle the router hands out: shares ownership of the connection that holds this
  // tunnel, so the tunnel lives as long as a handle does.
  std::shared_ptr<DeviceTunnel> handle();

  // The channel-open callback: the first session channel becomes the control channel (ours;
  // nullptr refuses the open).
  ssh::Channel* open_control();
  void service();
  void check(std::chrono::steady_clock::time_point now);
  void on_closed(const std::string& reason);
  bool has_session() const { return !session_id_.empty(); }
  const std::string& session_id() const { return session_id_; }
  const std::string& device_name() const { return device_name_; }

  // Agentless devices (device_tunnel_agentless.cpp). begin_agentless() runs inside
  // authentication, before it succeeds: it issues the session and sends the banner with its ID.
  void begin_agentless();
  bool agentless() const { return agentless_; }
  const DeviceServices& services() const { return services_; }
  // tcpip-forward / cancel-tcpip-forward; false = libssh sends the default refusal.
  bool on_global_request(ssh::Message& message);

  // Operators attached to this device (same reactor). Joins and leaves are announced.
  void attach(DeviceMember* link);
  void detach(DeviceMember* link);
  // Asks the device's user; the answer (or a timeout: no) goes to member->consent_answer().
  void request_consent(DeviceMember* link, const std::string& capability, const std::string& what);
  void broadcast_notice(const std::string& text, DeviceMember* except = nullptr);
  // The device's shared terminal, started by its first member.
  SharedTerminal& shared_terminal();
  SharedTerminal* shared_terminal_if_any() { return shared_.get(); }
  // The administrator ends the whole session: every operator is told and let go, the agent is
  // told ({"type":"ended"}), and the tunnel closes with `reason` ("killed by admin:USER").
  // Returns the operators that were attached.
  std::vector<std::string> end_by_admin(const std::string& reason, const std::string& told);
  // Ends one operator's attachments only; returns how many.
  int end_operator_by_admin(const std::string& operator_name, const std::string& reason);
  // Unanswered consent requests past their deadline count as "no" (called every second).
  void expire_consents(std::chrono::steady_clock::time_point now);

 private:
  bool on_subsystem(std::string_view subsystem);
  bool on_shell();
  bool register_service(ssh::Message& message);
  bool cancel_service(ssh::Message& message);
  void record_service_event(const store::EventKind& kind, const DeviceService& service);
  // The agentless device's shell: shows the session ID and services until Ctrl-C / Ctrl-D.
  void service_console();
  std::string console_text() const;
  void send_keepalive();
  void handle(const nlohmann::json& message);
  void handle_hello(const nlohmann::json& hello);
  void redeem_token(const std::string& token, const std::string& wanted_name);
  void issue_session(const std::string& device_name, const std::string& kind);
  void fail(const std::string& message);
  // While a refusal is on its way out: true (and closes once it has left).
  bool finish_failure();
  void handle_consent_answer(const nlohmann::json& answer);
  void handle_info(const nlohmann::json& message);
  // The info as stored: what the device said, where it came from and when.
  void set_info(nlohmann::json info);
  // Once the session has its ID: why the hello's system info was left out, if it was.
  void report_info_error();
  // The hello asked for its session back: resumes it, or says why not and issues a new one.
  void resume_session(const DeviceHello& hello);
  // The session's answer to the agent (a new or a resumed session).
  void send_session(const std::string& resume_token, const std::string& refused, bool resumed);
  // On close: keeps the ID for a resume when the drop was not a deliberate end. True if held.
  bool hold_for_resume(const std::string& reason);

  struct PendingConsent {
    DeviceMember* link;
    std::string capability;
    std::chrono::steady_clock::time_point deadline;
  };
  std::vector<DeviceMember*> operators_;
  std::unique_ptr<SharedTerminal> shared_;
  std::map<std::uint64_t, PendingConsent> consents_;
  std::uint64_t next_consent_id_ = 1;
  bool consent_prompt_ = true;

  PeerConn& conn_;
  ssh::Channel control_channel_;  // the agent's control channel, or an agentless shell
  bool subsystem_ok_ = false;
  std::unique_ptr<ssh::LineChannel> control_;
  bool hello_seen_ = false;
  std::string failure_;  // set once the device was refused
  bool eof_sent_ = false;
  // When the janitor's previous check pinged this tunnel; an answer must come after it.
  std::optional<std::chrono::steady_clock::time_point> last_ping_;
  bool waiting_for_store_ = false;
  nlohmann::json info_ = nlohmann::json::object();
  std::string info_error_;  // the hello's system info was left out: why
  std::optional<std::chrono::steady_clock::time_point> last_info_update_;
  bool info_flood_logged_ = false;
  std::string session_id_;
  std::string device_name_;
  std::string kind_;

  bool agentless_ = false;
  DeviceServices services_;
  bool console_requested_ = false;
  bool console_shown_ = false;
  bool console_ended_ = false;
  bool bye_ = false;             // the agent ended the session on purpose
  bool resumed_ = false;         // this tunnel took over a session held after a blip
  std::string resume_refused_;   // why a resume was refused, told with the new session
  bool protocol_error_ = false;  // the control channel broke: no resume
  std::string kill_reason_;      // set when the administrator ended the session
  std::unique_ptr<boost::asio::steady_timer> kill_timer_;
};

}  // namespace sb::relay
