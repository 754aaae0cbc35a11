// The `replikv sim` subcommand. The CLI's main() wires it with two lines:
//
//   auto sim = rkv::sim::add_sim_command(app);            // before CLI11_PARSE
//   if (sim->selected()) return sim->run(std::cout);      // after it
//
// Options are documented in docs/simulator.md. Exit status: 0 when every run passed, 1 when
// any run failed, 2 on bad options.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>

namespace CLI {
class App;
}

namespace rkv::sim {

class SimCommand {
 public:
  virtual ~SimCommand() = default;
  // True when `sim` was given on the command line (valid after parsing).
  virtual bool selected() const = 0;
  virtual int run(std::ostream& out) = 0;
};

// Adds the `sim` subcommand and its options to `app`. The returned object holds the parsed
// values and must outlive parsing.
std::unique_ptr<SimCommand> add_sim_command(CLI::App& app);

}  // namespace rkv::sim
