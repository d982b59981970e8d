// Handing a socket Asio connected over to libssh, which reads, writes and closes it itself.
#pragma once
#include <boost/asio/ip/tcp.hpp>

namespace sb::io {

// Takes the connected socket out of Asio's hands: its descriptor on POSIX; on Windows a
// duplicate of it (Asio cannot let go of a socket there), the original being closed. -1 and
// ec on failure.
int hand_over_socket(boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec);

}  // namespace sb::io
