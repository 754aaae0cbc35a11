#include "raft/codec.h"

#include <utility>

#include "raft/raft_messages.pb.h"

namespace rkv::raft {

// Messages are built and parsed on an arena: one bulk release instead of freeing every entry
// (and its data) on its own.
std::string encode_message(std::string_view group, const Message& m) {
  google::protobuf::Arena arena;
  pb::Message& p = *google::protobuf::Arena::CreateMessage<pb::Message>(&arena);
  p.set_group(std::string(group));
  p.set_type(static_cast<pb::MessageType>(m.type));
  p.set_from(m.from);
  p.set_to(m.to);
  p.set_term(m.term);
  p.set_log_term(m.log_term);
  p.set_index(m.index);
  for (const Entry& e : m.entries) {
    pb::Entry* pe = p.add_entries();
    pe->set_term(e.term);
    pe->set_index(e.index);
    pe->set_type(static_cast<pb::EntryType>(e.type));
    pe->set_data(e.data);
  }
  p.set_commit(m.commit);
  p.set_reject(m.reject);
  p.set_reject_hint_index(m.reject_hint_index);
  p.set_reject_hint_term(m.reject_hint_term);
  p.set_context(m.context);
  if (m.snapshot.index != 0 || m.snapshot.term != 0 || !m.snapshot.voters.empty()) {
    pb::SnapshotMeta* ps = p.mutable_snapshot();
    ps->set_index(m.snapshot.index);
    ps->set_term(m.snapshot.term);
    for (NodeId v : m.snapshot.voters)
      ps->add_voters(v);
  }
  p.set_offset(m.offset);
  p.set_data(m.data);
  p.set_done(m.done);
  std::string out;
  p.SerializeToString(&out);
  return out;
}

Result<Envelope> decode_message(std::string_view bytes) {
  if (bytes.size() > kMaxEncodedMessageBytes) {
    return Status::resource_exhausted("raft message of " + std::to_string(bytes.size()) +
                                      " bytes exceeds the limit");
  }
  google::protobuf::Arena arena;
  pb::Message& p = *google::protobuf::Arena::CreateMessage<pb::Message>(&arena);
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::corruption("raft message does not parse");
  }
  if (p.type() < 0 || p.type() >= kMessageTypeCount) {
    return Status::corruption("raft message has unknown type " + std::to_string(p.type()));
  }
  Envelope env;
  env.group = p.group();
  Message& m = env.message;
  m.type = static_cast<MessageType>(p.type());
  m.from = p.from();
  m.to = p.to();
  m.term = p.term();
  m.log_term = p.log_term();
  m.index = p.index();
  m.entries.reserve(static_cast<size_t>(p.entries_size()));
  // The parsed message is ours: entry data (and a snapshot chunk) move out instead of copying.
  for (pb::Entry& pe : *p.mutable_entries()) {
    if (pe.type() != pb::NORMAL && pe.type() != pb::NOOP) {
      return Status::corruption("raft message has an entry of unknown type");
    }
    m.entries.push_back(Entry{pe.term(), pe.index(), static_cast<EntryType>(pe.type()),
                              std::move(*pe.mutable_data())});
  }
  for (size_t k = 1; k < m.entries.size(); ++k) {
    if (m.entries[k].index != m.entries[k - 1].index + 1) {
      return Status::corruption("raft message has non-contiguous entries");
    }
  }
  if (!m.entries.empty() && m.entries.front().index != m.index + 1) {
    return Status::corruption("raft message entries do not follow its index");
  }
  m.commit = p.commit();
  m.reject = p.reject();
  m.reject_hint_index = p.reject_hint_index();
  m.reject_hint_term = p.reject_hint_term();
  m.context = p.context();
  if (p.has_snapshot()) {
    m.snapshot.index = p.snapshot().index();
    m.snapshot.term = p.snapshot().term();
    m.snapshot.voters.assign(p.snapshot().voters().begin(), p.snapshot().voters().end());
  }
  m.offset = p.offset();
  m.data = std::move(*p.mutable_data());
  m.done = p.done();
  return env;
}

}  // namespace rkv::raft
