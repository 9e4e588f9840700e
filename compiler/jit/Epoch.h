// Epoch-based reclamation for structures that readers use without locks:
// a reader announces the epoch it entered in its slot; the writer publishes
// a new version, bumps the epoch and frees an old version only once no
// reader is still inside an epoch that could have seen it. Readers never
// wait; the writer never waits either (it frees later, on its next call).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace nfjit::jit {

class EpochDomain {
 public:
  static constexpr unsigned kMaxReaders = 64;

  // A reader slot; one per thread that searches concurrently with updates.
  class Reader {
   public:
    explicit Reader(EpochDomain& d) : d_(&d), slot_(d.acquireSlot()) {}
    ~Reader() { d_->releaseSlot(slot_); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    // Between enter() and leave() the versions loaded stay alive.
    void enter() { d_->slots_[slot_].epoch.store(d_->epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst); }
    void leave() { d_->slots_[slot_].epoch.store(0, std::memory_order_release); }

   private:
    EpochDomain* d_;
    unsigned slot_;
  };

  // Called by the (single, locked) writer after the new version is published:
  // `old` is freed once every reader that might hold it has left.
  void retire(std::shared_ptr<const void> old) {
    uint64_t e = epoch_.fetch_add(1, std::memory_order_seq_cst);
    std::lock_guard<std::mutex> l(m_);
    retired_.push_back({e, std::move(old)});
    reclaimLocked();
  }
  void reclaim() {
    std::lock_guard<std::mutex> l(m_);
    reclaimLocked();
  }
  size_t pending() {
    std::lock_guard<std::mutex> l(m_);
    return retired_.size();
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> epoch{0};  // 0: not reading
    std::atomic<bool> used{false};
  };

  unsigned acquireSlot() {
    for (unsigned i = 0; i < kMaxReaders; ++i) {
      bool expected = false;
      if (slots_[i].used.compare_exchange_strong(expected, true)) return i;
    }
    throw std::runtime_error("JIT: more than 64 concurrent readers");
  }
  void releaseSlot(unsigned i) {
    slots_[i].epoch.store(0, std::memory_order_release);
    slots_[i].used.store(false, std::memory_order_release);
  }
  // A version retired at epoch e may be held by readers that entered at <= e.
  void reclaimLocked() {
    uint64_t oldest = UINT64_MAX;
    for (const Slot& s : slots_)
      if (uint64_t e = s.epoch.load(std::memory_order_seq_cst); e && e < oldest) oldest = e;
    size_t keep = 0;
    for (auto& r : retired_)
      if (r.first >= oldest) retired_[keep++] = std::move(r);
    retired_.resize(keep);
  }

  std::atomic<uint64_t> epoch_{1};
  Slot slots_[kMaxReaders];
  std::mutex m_;
  std::vector<std::pair<uint64_t, std::shared_ptr<const void>>> retired_;
};

// RAII section of a Reader.
class ReadSection {
 public:
  explicit ReadSection(EpochDomain::Reader& r) : r_(r) { r_.enter(); }
  ~ReadSection() { r_.leave(); }

 private:
  EpochDomain::Reader& r_;
};

}  // namespace nfjit::jit
