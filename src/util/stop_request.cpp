#include "selm/util/stop_request.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace selm {

namespace {

std::atomic<int> received_signal{0};

extern "C" void on_stop_signal(int signal) {
  if (received_signal.load() != 0 && signal != SIGUSR1) {
    // The second request: stop now, the way the signal does by default.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  received_signal.store(signal);
  static const char message[] =
      "selm: stop requested: finishing the step in flight and saving (send it again to stop at once)\n";
  const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof(message) - 1);
  (void)ignored;
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal : {SIGINT, SIGTERM, SIGUSR1}) sigaction(signal, &action, nullptr);
}

bool stop_requested() { return received_signal.load() != 0; }

std::string stop_signal_name() {
  switch (received_signal.load()) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case 0: return "";
    default: return "signal " + std::to_string(received_signal.load());
  }
}

}  // namespace selm
