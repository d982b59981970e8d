// The router: which live device tunnel a session ID or an enrolled device name leads to. Shared
// by every reactor; short critical sections only, no I/O under the lock. It hands out typed
// handles to devices (weak while stored, so a closed tunnel simply stops resolving) and never
// calls into them: what a device does lives in relay/device.
//
// An ad-hoc session can be made resumable (arm_resume): when its tunnel drops for a reason that
// is not a deliberate end, the ID is held (hold) for a grace period with the shared terminal's
// recent screen, and the agent that proves it is the same tunnel (same key, and the token whose
// hash is kept here) takes it back (resume). A held session leads to no device; operators are
// told it is reconnecting. Past its grace the holder's expiry sweep ends it (expire_held).
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sb::relay {

class DeviceTunnel;

struct LiveSession {
  std::string id;
  std::weak_ptr<DeviceTunnel> device;
  std::string device_name;  // enrolled name, "" for ad hoc
  bool enrolled = false;
  bool consent_prompt = true;  // ask the device's user before each attach
  bool held = false;           // its tunnel dropped; the ID waits for the agent to resume
};

enum class ResumeStatus { kResumed, kUnknown, kWrongProof };

struct ResumeOutcome {
  ResumeStatus status = ResumeStatus::kUnknown;
  // A resume while the old tunnel still looked alive (e.g. after a NAT rebinding): the old
  // tunnel, which the caller closes.
  std::shared_ptr<DeviceTunnel> previous;
  std::chrono::milliseconds away{0};  // how long the session was held
};

// A held session whose grace ran out (or that was ended while held).
struct HeldSession {
  std::string id;
  std::string fingerprint;
  std::string interrupted;  // why its tunnel dropped
};

class Router {
 public:
  using Clock = std::chrono::steady_clock;

  // A fresh nine-digit ID from the CSPRNG, unique among live sessions, leading to `device`.
  std::string issue(std::weak_ptr<DeviceTunnel> device, const std::string& device_name = "",
                    bool enrolled = false, bool consent_prompt = true);
  // The live session by ID (held ones too, with held set) or by enrolled device name.
  std::optional<LiveSession> lookup_id(const std::string& id) const;
  std::optional<LiveSession> lookup_device(const std::string& device_name) const;
  // Binds an enrolled device name to its session; returns the tunnel it replaces, if any.
  std::shared_ptr<DeviceTunnel> bind_device(const std::string& device_name, const std::string& id);
  void release(const std::string& id, const std::string& device_name);
  // release() if `owner` still holds the session; false (and nothing changes) if another
  // tunnel resumed it meanwhile.
  bool release_owned(const std::string& id, const DeviceTunnel* owner);
  std::shared_ptr<DeviceTunnel> find(const std::string& id) const;
  std::optional<std::string> session_of_device(const std::string& device_name) const;
  std::size_t live() const;

  // Resumes of this session must come from the key with `fingerprint` and present the token
  // whose hash_token() is token_hash.
  void arm_resume(const std::string& id, std::string fingerprint, std::string token_hash);
  // The tunnel of a resumable session dropped: the ID stays reserved until `until`, keeping
  // `screen` (bounded by the caller) for the operators who come back. False if the session is
  // not resumable or `owner` no longer holds it.
  bool hold(const std::string& id, const DeviceTunnel* owner, Clock::time_point until,
            std::string screen, std::string why, Clock::time_point now = Clock::now());
  // A tunnel proves it is the session's: same key and token. On success it owns the session,
  // and new_token_hash replaces the token (each token serves once).
  ResumeOutcome resume(const std::string& id, const std::string& fingerprint,
                       const std::string& token_hash, std::weak_ptr<DeviceTunnel> device,
                       std::string new_token_hash, Clock::time_point now = Clock::now());
  // The screen kept while the session was held (empty if none, or already taken).
  std::string take_screen(const std::string& id);
  // Held sessions past their grace, now released.
  std::vector<HeldSession> expire_held(Clock::time_point now);
  // Releases one held session (admin kill), or every one (relay stop).
  std::optional<HeldSession> drop_held(const std::string& id);
  std::vector<HeldSession> drop_all_held();
  std::size_t held() const;
  // Bytes of screen kept by held sessions (bounded memory, for the tests).
  std::size_t held_screen_bytes() const;

 private:
  struct Entry {
    LiveSession session;
    std::string fingerprint;  // of the key that may resume it ("" = not resumable)
    std::string token_hash;
    Clock::time_point held_since{};
    Clock::time_point held_until{};
    std::string screen;
    std::string interrupted;
  };
  static HeldSession held_of(const Entry& entry);
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it);
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_id_;
  std::unordered_map<std::string, std::string> id_by_device_;
};

}  // namespace sb::relay
