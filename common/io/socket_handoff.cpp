#include "common/io/socket_handoff.hpp"

#ifdef _WIN32
#include <winsock2.h>
#endif

namespace sb::io {

#ifdef _WIN32
int hand_over_socket(boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec) {
  WSAPROTOCOL_INFOW info{};
  SOCKET dup = INVALID_SOCKET;
  if (::WSADuplicateSocketW(socket.native_handle(), ::GetCurrentProcessId(), &info) == 0)
    dup = ::WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                       WSA_FLAG_OVERLAPPED);
  if (dup == INVALID_SOCKET) {
    ec.assign(::WSAGetLastError(), boost::asio::error::get_system_category());
    return -1;
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  return static_cast<int>(dup);
}
#else
int hand_over_socket(boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec) {
  ec.clear();
  return socket.release();
}
#endif

}  // namespace sb::io
