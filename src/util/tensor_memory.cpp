#include "selm/util/tensor_memory.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include <c10/core/CPUAllocator.h>

namespace selm {

namespace {

std::atomic<std::int64_t> current_bytes{0};
std::atomic<std::int64_t> peak_bytes{0};

void add_bytes(std::int64_t bytes) {
  const std::int64_t now = current_bytes.fetch_add(bytes) + bytes;
  std::int64_t peak = peak_bytes.load();
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {
  }
}

// What one counted allocation keeps: the wrapped allocator's own DataPtr (freed with it) and
// the size to subtract.
struct CountedBlock {
  c10::DataPtr inner;
  std::int64_t bytes;
};

void free_counted_block(void* context) {
  auto* block = static_cast<CountedBlock*>(context);
  current_bytes.fetch_sub(block->bytes);
  delete block;  // frees the memory through the wrapped allocator's deleter
}

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* wrapped) : wrapped_(wrapped) {}

  c10::DataPtr allocate(std::size_t bytes) const override {
    c10::DataPtr inner = wrapped_->allocate(bytes);
    void* data = inner.get();
    const c10::Device device = inner.device();
    auto* block = new CountedBlock{std::move(inner), static_cast<std::int64_t>(bytes)};
    add_bytes(block->bytes);
    return {data, block, &free_counted_block, device};
  }

  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }  // every block carries a context

 private:
  c10::Allocator* wrapped_;
};

}  // namespace

void install_counting_cpu_allocator() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    static CountingAllocator allocator(c10::GetCPUAllocator());
    // A priority above the default one, so that LibTorch's CPU tensors come from here.
    c10::SetCPUAllocator(&allocator, /*priority=*/1);
  });
}

TensorMemory cpu_tensor_memory() { return {current_bytes.load(), peak_bytes.load()}; }

void reset_peak_cpu_tensor_memory() { peak_bytes.store(current_bytes.load()); }

}  // namespace selm
