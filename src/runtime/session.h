// Connection- and server-level commands (PING, HELLO, CLIENT, INFO, COMMAND, CONFIG, ...):
// everything that is not a data command executed by the Node. Loop thread only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "resp/commands.h"
#include "resp/writer.h"

namespace rkv {

class Server;
class Connection;

// True when the command is executed by the Node (keys and keyspaces).
bool is_data_command(resp::CommandId id);

// MULTI, DISCARD, WATCH, UNWATCH (EXEC aside): run by the connection's ClientTransaction.
bool is_transaction_command(resp::CommandId id);

// Executes a non-data command for `conn`, appending the reply to `out` in the connection's
// protocol. Returns a wait token as Node::execute does (0: the reply may go at once).
uint64_t run_session_command(Server& server, Connection& conn, const resp::CommandSpec& spec,
                             std::span<const std::string_view> args, std::string* out);
void run_session_command(Server& server, Connection& conn, const resp::CommandSpec& spec,
                         std::span<const std::string_view> args, resp::Writer& w, std::string* out);

// ACL CAT|DELUSER|DRYRUN|GENPASS|GETUSER|HELP|LIST|SETUSER|USERS|WHOAMI (acl_command.cc).
void cmd_acl(Server& server, Connection& conn, std::span<const std::string_view> args,
             resp::Writer& w);

// "ERR unknown command 'x', with args beginning with: 'a' 'b' "
void write_unknown_command(std::span<const std::string_view> args, resp::Writer& w);

}  // namespace rkv
