// Test helpers for the worker's /metrics: an HTTP GET over a plain socket
// (what Prometheus does, without a client library) and the value of one
// series in the exposition text. Stateless; safe from any thread.
#ifndef MOE4_TESTS_WORKER_SCRAPE_H_
#define MOE4_TESTS_WORKER_SCRAPE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace moe4::worker::testing {

struct HttpAnswer {
  int status = 0;        // 0: no answer
  std::string headers;   // status line and headers
  std::string body;
};

// GET http://127.0.0.1:port/path with HTTP/1.0, read to the end.
inline HttpAnswer HttpGet(int port, const std::string& path) {
  HttpAnswer answer;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return answer;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return answer;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return answer;
  }
  std::string raw;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) raw.append(buffer, static_cast<size_t>(n));
  close(fd);
  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return answer;
  answer.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  answer.headers = raw.substr(0, end);
  answer.body = raw.substr(end + 4);
  return answer;
}

// The value of the series written exactly as `series` ("name" or
// name{labels}) at the start of a line; nullopt when absent.
inline std::optional<double> SeriesValue(const std::string& text, const std::string& series) {
  const std::string key = series + " ";
  for (size_t at = 0; at < text.size();) {
    const size_t eol = text.find('\n', at);
    const std::string line = text.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + key.size(), nullptr);
    if (eol == std::string::npos) break;
    at = eol + 1;
  }
  return std::nullopt;
}

}  // namespace moe4::worker::testing

#endif  // MOE4_TESTS_WORKER_SCRAPE_H_
