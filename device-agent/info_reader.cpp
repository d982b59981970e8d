#include "device-agent/info_reader.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace sb::agent {

// What a read's thread shares with the reader: cut off when the reader goes, so that a read that
// ends later touches no executor that may be gone by then. While a read runs, `work` keeps the
// executor's loop from running out of work.
struct InfoReader::Shared {
  std::mutex mutex;
  bool abandoned = false;
  InfoReader* reader = nullptr;
  OnRead on_read;
  std::optional<boost::asio::any_io_executor> work;
};

InfoReader::InfoReader(boost::asio::any_io_executor executor, Collect collect, OnRead on_read)
    : executor_(std::move(executor)),
      collect_(std::move(collect)),
      shared_(std::make_shared<Shared>()) {
  shared_->reader = this;
  shared_->on_read = std::move(on_read);
}

InfoReader::~InfoReader() {
  std::lock_guard lock(shared_->mutex);
  shared_->abandoned = true;
  shared_->work.reset();
}

void InfoReader::read() {
  if (reading_) return;
  reading_ = true;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->work =
        boost::asio::prefer(executor_, boost::asio::execution::outstanding_work.tracked);
  }
  std::thread([shared = shared_, collect = collect_] {
    nlohmann::json info;
    try {
      info = collect();
    } catch (const std::exception& e) {
      spdlog::warn("could not read the system info: {}", e.what());
      info = nullptr;
    }
    std::lock_guard lock(shared->mutex);
    if (shared->abandoned) return;
    auto work = std::move(*shared->work);
    shared->work.reset();
    boost::asio::post(work, [shared, info = std::move(info)] {
      {
        std::lock_guard inner(shared->mutex);
        if (shared->abandoned) return;
        shared->reader->reading_ = false;
      }
      if (!info.is_null()) shared->on_read(info);
    });
  }).detach();
}

}  // namespace sb::agent
