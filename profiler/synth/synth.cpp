#include "synth.h"

#include "format/writer.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

namespace vramscope::synth {

using namespace vramscope::format;

namespace {

// splitmix64: the same numbers on every platform and standard library.
struct Random {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
    // Multiplicative jitter in [1 - f, 1 + f].
    double jitter(double f) { return 1.0 + f * (2.0 * uniform() - 1.0); }
    uint64_t between(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
};

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint32_t kDevice = 0;
constexpr uint32_t kStream = 7;  // PyTorch's default stream id as CUPTI reports it
constexpr uint64_t kDeviceTotalBytes = 80ull << 30;
constexpr double kPeakFlops = 989e12;       // H100 SXM dense bf16
constexpr double kPeakDramBytes = 3.35e12;  // H100 SXM HBM3
constexpr double kAchievedFlops = 0.45 * kPeakFlops;
constexpr double kAchievedBytes = 0.80 * kPeakDramBytes;
constexpr uint64_t kCounterIntervalNs = 1'000'000;   // 1 ms
constexpr uint64_t kMemInfoIntervalNs = 20'000'000;  // 20 ms
constexpr uint64_t kContextBytes = 520 * kMiB;       // CUDA context + cuBLAS workspace
constexpr uint64_t kSynthWallClockNs = 1'790'000'000'000'000'000ull;  // a fixed date: files are reproducible

enum class Bound { Compute, Bandwidth };
struct KernelType {
    const char* name;
    Bound bound;
    uint32_t gridX, blockX, registers, dynamicShared;
};

// Names as PyTorch 2.x on an H100 reports them (shortened templates).
const KernelType kGemm{"sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas",
                       Bound::Compute, 132, 384, 168, 213504};
const KernelType kGemmBackward{"sm90_xmma_gemm_bf16bf16_bf16f32_f32_nt_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_kernel__5x_cublas",
                               Bound::Compute, 132, 384, 168, 229376};
const KernelType kFlashForward{"void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<64, 128, 128, 4, false, false, cutlass::bfloat16_t>, true, false, false, false, true, true, false>(pytorch_flash::Flash_fwd_params)",
                               Bound::Compute, 768, 128, 255, 49152};
const KernelType kFlashBackward{"void pytorch_flash::flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_traits<64, 128, 128, 8, 4, 4, 4, false, false, cutlass::bfloat16_t>, true, false, false, false, false, true, false>(pytorch_flash::Flash_bwd_params)",
                                Bound::Compute, 768, 256, 255, 98304};
const KernelType kLayerNorm{"void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16, float>(int, float, c10::BFloat16 const*, c10::BFloat16 const*, c10::BFloat16 const*, float*, float*, c10::BFloat16*)",
                            Bound::Bandwidth, 8192, 256, 40, 0};
const KernelType kGelu{"void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16)#1}, at::detail::Array<char*, 2> >(int, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16)#1}, at::detail::Array<char*, 2>)",
                       Bound::Bandwidth, 12288, 128, 28, 0};
const KernelType kAdd{"void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3>)",
                      Bound::Bandwidth, 6144, 128, 26, 0};
const KernelType kLayerNormBackward{"void at::native::(anonymous namespace)::layer_norm_grad_input_kernel_vectorized<c10::BFloat16, float>(c10::BFloat16 const*, c10::BFloat16 const*, float const*, float const*, c10::BFloat16 const*, c10::BFloat16*, int)",
                                    Bound::Bandwidth, 8192, 256, 48, 0};
const KernelType kGeluBackward{"void at::native::vectorized_elementwise_kernel<4, at::native::GeluBackwardCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16, c10::BFloat16)#1}, at::detail::Array<char*, 3> >(int, at::native::GeluBackwardCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16, c10::BFloat16)#1}, at::detail::Array<char*, 3>)",
                               Bound::Bandwidth, 12288, 128, 30, 0};
const KernelType kReduce{"void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::func_wrapper_t<float, at::native::sum_functor<c10::BFloat16, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, float, 4, 4> >(at::native::ReduceOp<float, at::native::func_wrapper_t<float, at::native::sum_functor<c10::BFloat16, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, float, 4, 4>)",
                         Bound::Bandwidth, 1024, 512, 32, 0};
const KernelType kEmbedding{"void at::native::(anonymous namespace)::indexSelectLargeIndex<c10::BFloat16, long, unsigned int, 2, 2, -2, true>(at::cuda::detail::TensorInfo<c10::BFloat16, unsigned int>, at::cuda::detail::TensorInfo<c10::BFloat16, unsigned int>, at::cuda::detail::TensorInfo<long, unsigned int>, int, int, unsigned int, unsigned int, long)",
                            Bound::Bandwidth, 4096, 128, 32, 0};
const KernelType kCrossEntropy{"void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, c10::BFloat16, float, float, at::native::(anonymous namespace)::LogSoftMaxForwardEpilogue>(float*, c10::BFloat16 const*, int)",
                               Bound::Bandwidth, 8192, 1024, 40, 0};
const KernelType kAdam{"void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::FusedOptimizerTensorListMetadata<4>, at::native::(anonymous namespace)::FusedAdamMathFunctor<float, 4, (at::native::ADAM_MODE)1, false>, double*, double, double, double, double, double, bool, double*, double*>(at::native::(anonymous namespace)::FusedOptimizerTensorListMetadata<4>, at::native::(anonymous namespace)::FusedAdamMathFunctor<float, 4, (at::native::ADAM_MODE)1, false>, double*, double, double, double, double, double, bool, double*, double*)",
                       Bound::Bandwidth, 1320, 512, 64, 0};

struct Interval {
    uint64_t startNs, endNs;
    Bound bound;
};

class Generator {
public:
    Generator(TraceWriter& w, const SynthOptions& o) : w_(w), o_(o), rng_{o.seed * 0x2545F4914F6CDD1Dull + 1} {
        tokens_ = static_cast<uint64_t>(o_.batch) * o_.sequenceLength;
        h_ = o_.hidden;
    }

    void run() {
        header();
        allocateWeights();
        for (uint32_t it = 0; it < o_.iterations; ++it) iteration(it);
        tick(now_ + kCounterIntervalNs);  // last samples
        result.durationNs = now_ - startNs_;
    }

    SynthResult result;

private:
    // ---- primitives ----------------------------------------------------------
    void advance(uint64_t ns) { now_ += ns; }

    void kernel(const KernelType& type, double work) {
        // work: FLOPs for compute-bound, bytes moved for bandwidth-bound.
        double seconds = type.bound == Bound::Compute ? work / kAchievedFlops : work / kAchievedBytes;
        uint64_t durationNs = std::max<uint64_t>(2'000, static_cast<uint64_t>(seconds * 1e9 * rng_.jitter(0.03)));
        advance(rng_.between(1'500, 4'000));  // launch gap
        Kernel k;
        k.startNs = now_;
        k.endNs = now_ + durationNs;
        k.deviceId = kDevice;
        k.streamId = kStream;
        k.nameId = w_.intern(type.name);
        k.gridX = type.gridX;
        k.blockX = type.blockX;
        k.registersPerThread = type.registers;
        k.dynamicSharedBytes = type.dynamicShared;
        k.correlationId = ++correlation_;
        w_.write(k);
        intervals_.push_back({k.startNs, k.endNs, type.bound});
        now_ = k.endNs;
        ++result.kernels;
        tick(now_);
    }

    uint64_t tensorAlloc(uint64_t bytes, uint64_t address) {
        bytes = (bytes + 511) / 512 * 512;  // the caching allocator rounds to 512 bytes
        advance(rng_.between(300, 900));
        TensorMemory t;
        t.timestampNs = now_;
        t.action = TensorAction::Alloc;
        t.deviceId = kDevice;
        t.address = address;
        t.bytes = bytes;
        t.streamId = kStream;
        w_.write(t);
        allocatedBytes_ += bytes;
        result.peakAllocatedBytes = std::max(result.peakAllocatedBytes, allocatedBytes_);
        ++result.tensorAllocations;
        return bytes;
    }

    void tensorFree(uint64_t bytes, uint64_t address) {
        bytes = (bytes + 511) / 512 * 512;
        advance(rng_.between(200, 600));
        TensorMemory t;
        t.timestampNs = now_;
        t.action = TensorAction::FreeRequested;
        t.deviceId = kDevice;
        t.address = address;
        t.bytes = bytes;
        t.streamId = kStream;
        w_.write(t);
        t.action = TensorAction::FreeCompleted;  // same stream: completes at once
        w_.write(t);
        allocatedBytes_ -= bytes;
    }

    // A new caching-allocator segment: cudaMalloc at the driver and the
    // allocator's own segment_alloc event. Returns its base address.
    uint64_t segment(uint64_t bytes) {
        bytes = (bytes + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
        uint64_t address = nextSegmentAddress_;
        nextSegmentAddress_ += bytes + 2 * kMiB;
        advance(rng_.between(20'000, 60'000));  // cudaMalloc is slow
        DriverMemory d;
        d.timestampNs = now_;
        d.op = DriverMemoryOp::Alloc;
        d.kind = MemoryKind::Device;
        d.deviceId = kDevice;
        d.address = address;
        d.bytes = bytes;
        w_.write(d);
        TensorMemory t;
        t.timestampNs = now_;
        t.action = TensorAction::SegmentAlloc;
        t.deviceId = kDevice;
        t.address = address;
        t.bytes = bytes;
        t.streamId = kStream;
        w_.write(t);
        reservedBytes_ += bytes;
        return address;
    }

    void phase(PhaseKind kind, uint64_t step) {
        if (!o_.phaseMarkers) return;
        Phase p;
        p.timestampNs = now_;
        p.kind = kind;
        p.step = step;
        w_.write(p);
    }

    void range(const char* name, uint64_t startNs) {
        if (!o_.phaseMarkers) return;
        Range r;
        r.startNs = startNs;
        r.endNs = now_;
        r.kind = RangeKind::PushPop;
        r.nameId = w_.intern(name);
        r.threadId = 4242;
        w_.write(r);
    }

    // Emits counter and memory-info samples due up to timeNs.
    void tick(uint64_t timeNs) {
        while (nextCounterNs_ <= timeNs) {
            uint64_t lo = nextCounterNs_ - kCounterIntervalNs, hi = nextCounterNs_;
            double computeNs = 0, bandwidthNs = 0;
            for (const auto& i : intervals_) {
                uint64_t a = std::max(lo, i.startNs), b = std::min(hi, i.endNs);
                if (a < b) (i.bound == Bound::Compute ? computeNs : bandwidthNs) += static_cast<double>(b - a);
            }
            double fc = computeNs / kCounterIntervalNs, fb = bandwidthNs / kCounterIntervalNs;
            double sm = std::clamp((fc * 86 + fb * 24) * rng_.jitter(0.04), 0.0, 100.0);
            double dram = std::clamp((fc * 27 + fb * 87) * rng_.jitter(0.04), 0.0, 100.0);
            double tensor = std::clamp(fc * 62 * rng_.jitter(0.05), 0.0, 100.0);
            CounterSample s;
            s.timestampNs = nextCounterNs_;
            s.counterId = 1; s.valueMilli = static_cast<uint32_t>(sm * 1000); w_.write(s);
            s.counterId = 2; s.valueMilli = static_cast<uint32_t>(dram * 1000); w_.write(s);
            s.counterId = 3; s.valueMilli = static_cast<uint32_t>(tensor * 1000); w_.write(s);
            nextCounterNs_ += kCounterIntervalNs;
            // Intervals entirely before the next window are no longer needed.
            auto keepFrom = std::find_if(intervals_.begin(), intervals_.end(),
                                         [&](const Interval& i) { return i.endNs > nextCounterNs_ - kCounterIntervalNs; });
            intervals_.erase(intervals_.begin(), keepFrom);
        }
        while (nextMemInfoNs_ <= timeNs) {
            MemInfo m;
            m.timestampNs = nextMemInfoNs_;
            m.deviceId = kDevice;
            m.usedBytes = reservedBytes_ + kContextBytes;
            m.freeBytes = kDeviceTotalBytes - m.usedBytes;
            w_.write(m);
            nextMemInfoNs_ += kMemInfoIntervalNs;
        }
    }

    // ---- the run -------------------------------------------------------------
    void header() {
        ProcessInfo p;
        p.timestampNs = now_;
        p.pid = 4242;
        p.hostnameId = w_.intern("synth-host");
        p.commandLineId = w_.intern("vramscope synth (GPT " + std::to_string(o_.layers) + "x" + std::to_string(h_) +
                                    ", batch " + std::to_string(o_.batch) + ", seq " +
                                    std::to_string(o_.sequenceLength) + ")");
        p.wallClockNs = kSynthWallClockNs;
        w_.write(p);
        DeviceInfo d;
        d.timestampNs = now_;
        d.deviceId = kDevice;
        d.nameId = w_.intern("NVIDIA H100 80GB HBM3 (synthetic)");
        for (size_t i = 0; i < d.uuid.size(); ++i) d.uuid[i] = static_cast<uint8_t>(0xA0 + i);
        d.totalMemoryBytes = kDeviceTotalBytes;
        d.smCount = 132;
        d.computeCapability = 90;
        d.peakDramBytesPerSec = static_cast<uint64_t>(kPeakDramBytes);
        d.peakFlopsPerSec = static_cast<uint64_t>(kPeakFlops);
        w_.write(d);
        const char* names[] = {"sm__throughput.avg.pct_of_peak_sustained_elapsed",
                               "dram__throughput.avg.pct_of_peak_sustained_elapsed",
                               "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_elapsed"};
        CounterMetric metrics[] = {CounterMetric::SmThroughputPct, CounterMetric::DramThroughputPct,
                                   CounterMetric::TensorPipePct};
        for (uint32_t i = 0; i < 3; ++i) {
            CounterInfo c;
            c.timestampNs = now_;
            c.counterId = i + 1;
            c.deviceId = kDevice;
            c.metric = metrics[i];
            c.source = CounterSource::Synthetic;
            c.nameId = w_.intern(names[i]);
            c.intervalNs = kCounterIntervalNs;
            w_.write(c);
        }
        Note n;
        n.timestampNs = now_;
        n.severity = Severity::Info;
        n.textId = w_.intern("synthetic trace made by `vramscope synth`; no GPU was involved");
        w_.write(n);
        nextCounterNs_ = now_ + kCounterIntervalNs;
        nextMemInfoNs_ = now_;
        tick(now_);
    }

    uint64_t layerWeightBytes() const { return 12ull * h_ * h_ * 2; }  // bf16 qkv+proj+fc1+fc2
    uint64_t embeddingBytes() const { return 50257ull * h_ * 2; }
    uint64_t act(uint64_t widthMultiple) const { return tokens_ * h_ * 2 * widthMultiple; }

    void allocateWeights() {
        // Four weight tensors per layer (qkv 3h², proj h², fc1 4h², fc2 4h²) plus embeddings.
        weightSizes_ = {embeddingBytes()};
        for (uint32_t l = 0; l < o_.layers; ++l) {
            uint64_t u = 1ull * h_ * h_ * 2;
            weightSizes_.insert(weightSizes_.end(), {3 * u, u, 4 * u, 4 * u});
        }
        uint64_t total = 0;
        for (auto b : weightSizes_) total += (b + 511) / 512 * 512;
        uint64_t base = segment(total);
        for (auto b : weightSizes_) {
            weightAddresses_.push_back(base);
            base += tensorAlloc(b, base);
        }
        // The H2D copy of the weights.
        Memcpy m;
        advance(5'000);
        m.startNs = now_;
        m.endNs = now_ + static_cast<uint64_t>(static_cast<double>(total) / 25e9 * 1e9);
        m.deviceId = kDevice;
        m.streamId = kStream;
        m.bytes = total;
        m.copyKind = CopyKind::HostToDevice;
        m.srcKind = MemoryKind::Pageable;
        m.dstKind = MemoryKind::Device;
        w_.write(m);
        now_ = m.endNs + 2'000'000;  // model setup on the host
        tick(now_);
    }

    // Activation layout of one layer: saved tensors and their widths (× h).
    static constexpr uint64_t kSaved[] = {1, 3, 1, 1, 1, 4, 4, 1};  // ln1, qkv, attn, proj, ln2, fc1, gelu, fc2

    uint64_t layerActivationBytes() const {
        uint64_t s = 0;
        for (auto w : kSaved) s += act(w);
        return s;
    }

    // Normal: the layer's saved tensors stay for backward.
    // Checkpointed: a no_grad forward keeps only the layer input (the first).
    // Recompute: backward re-runs forward and re-creates all but the input.
    enum class ForwardMode { Normal, Checkpointed, Recompute };

    // Forward kernels of one layer; its saved tensors lie consecutively at base.
    void layerForward(uint64_t base, ForwardMode mode) {
        double T = static_cast<double>(tokens_), H = h_;
        uint64_t a = base;
        std::vector<std::pair<uint64_t, uint64_t>> saved;
        auto alloc = [&](uint64_t width) {
            uint64_t b = act(width);
            bool isInput = saved.empty();
            saved.push_back({a, b});
            if (isInput && mode == ForwardMode::Recompute) a += (b + 511) / 512 * 512;  // still alive
            else a += tensorAlloc(b, a);
        };
        alloc(1); kernel(kLayerNorm, T * H * 2 * 2);
        alloc(3); kernel(kGemm, 2 * T * H * 3 * H);
        alloc(1); kernel(kFlashForward, 4 * T * o_.sequenceLength * H);
        alloc(1); kernel(kGemm, 2 * T * H * H);
        kernel(kAdd, T * H * 2 * 3);
        alloc(1); kernel(kLayerNorm, T * H * 2 * 2);
        alloc(4); kernel(kGemm, 2 * T * H * 4 * H);
        alloc(4); kernel(kGelu, T * 4 * H * 2 * 2);
        alloc(1); kernel(kGemm, 2 * T * 4 * H * H);
        // The softmax statistics: a temporary of one layer.
        uint64_t tmp = tempAddress_;
        tensorAlloc(tokens_ * 4 * 12, tmp);
        kernel(kAdd, T * H * 2 * 3);
        tensorFree(tokens_ * 4 * 12, tmp);
        if (mode == ForwardMode::Checkpointed)
            for (size_t i = 1; i < saved.size(); ++i) tensorFree(saved[i].second, saved[i].first);
    }

    void layerBackward(uint64_t base, uint32_t layer) {
        double T = static_cast<double>(tokens_), H = h_;
        // Gradient of the layer output and input: temporaries.
        uint64_t gOut = tempAddress_ + 64 * kMiB, gIn = gOut + act(4) + 2 * kMiB;
        tensorAlloc(act(4), gOut);
        kernel(kGemmBackward, 2 * T * 4 * H * H);
        grad(layer, 3); kernel(kGemmBackward, 2 * T * 4 * H * H);
        kernel(kGeluBackward, T * 4 * H * 2 * 3);
        tensorAlloc(act(1), gIn);
        kernel(kGemmBackward, 2 * T * H * 4 * H);
        grad(layer, 2); kernel(kGemmBackward, 2 * T * H * 4 * H);
        kernel(kLayerNormBackward, T * H * 2 * 3);
        kernel(kReduce, T * H * 2);
        kernel(kGemmBackward, 2 * T * H * H);
        grad(layer, 1); kernel(kGemmBackward, 2 * T * H * H);
        kernel(kFlashBackward, 10 * T * o_.sequenceLength * H);
        kernel(kGemmBackward, 2 * T * H * 3 * H);
        grad(layer, 0); kernel(kGemmBackward, 2 * T * H * 3 * H);
        kernel(kLayerNormBackward, T * H * 2 * 3);
        kernel(kAdd, T * H * 2 * 3);
        tensorFree(act(1), gIn);
        tensorFree(act(4), gOut);
        // The layer's saved activations die once its backward is done.
        uint64_t a = base;
        for (auto w : kSaved) {
            tensorFree(act(w), a);
            a += (act(w) + 511) / 512 * 512;
        }
    }

    // Weight gradient w of layer l (set_to_none: allocated in every backward).
    void grad(uint32_t layer, uint32_t w) {
        size_t index = 1 + layer * 4 + w;
        tensorAlloc(weightSizes_[index], gradAddresses_[index]);
    }

    void iteration(uint32_t it) {
        double T = static_cast<double>(tokens_), H = h_;
        const uint64_t layerBytes = layerActivationBytes();
        if (it == 0) {
            // First iteration: the caching allocator grows its reserve.
            activationBase_ = segment(layerBytes * o_.layers + act(1) * o_.layers);
            uint64_t gradTotal = 0;
            for (auto b : weightSizes_) gradTotal += (b + 511) / 512 * 512;
            uint64_t g = segment(gradTotal);
            for (auto b : weightSizes_) { gradAddresses_.push_back(g); g += (b + 511) / 512 * 512; }
            tempAddress_ = segment(256 * kMiB + act(8));
            logitsAddress_ = segment(tokens_ * 50257 * 2 * 2 + 4 * kMiB);
        }
        uint64_t stepStart = now_;
        phase(PhaseKind::StepBegin, it);
        // Input batch: token ids to the GPU.
        uint64_t input = tempAddress_ + 200 * kMiB;
        tensorAlloc(tokens_ * 8, input);
        Memcpy m;
        advance(3'000);
        m.startNs = now_;
        m.endNs = now_ + tokens_ * 8 / 20 + 2'000;
        m.deviceId = kDevice;
        m.streamId = kStream;
        m.bytes = tokens_ * 8;
        m.copyKind = CopyKind::HostToDevice;
        m.srcKind = MemoryKind::PinnedHost;
        m.dstKind = MemoryKind::Device;
        w_.write(m);
        now_ = m.endNs;

        // ---- forward
        uint64_t forwardStart = now_;
        phase(PhaseKind::ForwardBegin, it);
        uint64_t embed = activationBase_ + layerBytes * o_.layers;
        tensorAlloc(act(1), embed);
        kernel(kEmbedding, T * H * 2 * 2);
        for (uint32_t l = 0; l < o_.layers; ++l) {
            uint64_t base = activationBase_ + l * layerBytes;
            layerForward(base, o_.checkpointing ? ForwardMode::Checkpointed : ForwardMode::Normal);
        }
        kernel(kLayerNorm, T * H * 2 * 2);
        uint64_t logitsBytes = tokens_ * 50257 * 2;
        tensorAlloc(logitsBytes, logitsAddress_);
        kernel(kGemm, 2 * T * H * 50257);
        kernel(kCrossEntropy, static_cast<double>(logitsBytes) * 2);
        range("forward", forwardStart);

        // ---- backward
        uint64_t backwardStart = now_;
        phase(PhaseKind::BackwardBegin, it);
        uint64_t gradLogits = logitsAddress_ + logitsBytes + 2 * kMiB;
        tensorAlloc(logitsBytes, gradLogits);
        kernel(kCrossEntropy, static_cast<double>(logitsBytes) * 2);
        tensorFree(logitsBytes, logitsAddress_);
        kernel(kGemmBackward, 2 * T * H * 50257);
        kernel(kGemmBackward, 2 * T * H * 50257);
        tensorFree(logitsBytes, gradLogits);
        for (uint32_t l = o_.layers; l-- > 0;) {
            uint64_t base = activationBase_ + l * layerBytes;
            if (o_.checkpointing) {
                phase(PhaseKind::RecomputeBegin, it);
                layerForward(base, ForwardMode::Recompute);
                phase(PhaseKind::RecomputeEnd, it);
            }
            layerBackward(base, l);
        }
        tensorAlloc(weightSizes_[0], gradAddresses_[0]);
        kernel(kEmbedding, T * H * 2 * 3);
        tensorFree(act(1), embed);
        tensorFree(tokens_ * 8, input);
        range("backward", backwardStart);

        // ---- optimizer (fused AdamW), state created on the first step
        uint64_t optimizerStart = now_;
        phase(PhaseKind::OptimizerBegin, it);
        if (it == 0) {
            uint64_t stateTotal = 0;
            for (auto b : weightSizes_) stateTotal += 2 * ((b * 2 + 511) / 512 * 512);  // fp32 exp_avg, exp_avg_sq
            uint64_t s = segment(stateTotal);
            for (auto b : weightSizes_) {
                s += tensorAlloc(b * 2, s);
                s += tensorAlloc(b * 2, s);
            }
        }
        double paramBytes = 0;
        for (auto b : weightSizes_) paramBytes += static_cast<double>(b);
        for (int launch = 0; launch < 4; ++launch) kernel(kAdam, paramBytes * 7 / 4);
        // zero_grad(set_to_none=True)
        for (size_t i = 0; i < weightSizes_.size(); ++i) tensorFree(weightSizes_[i], gradAddresses_[i]);
        range("optimizer", optimizerStart);

        // A leak: something kept alive every iteration (a growing history list).
        if (o_.leakBytesPerIteration > 0) {
            if (leakUsed_ + o_.leakBytesPerIteration > leakCapacity_) {
                leakCapacity_ = std::max<uint64_t>(20 * kMiB, o_.leakBytesPerIteration * 4);
                leakAddress_ = segment(leakCapacity_);
                leakCapacity_ = (leakCapacity_ + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
                leakUsed_ = 0;
            }
            leakUsed_ += tensorAlloc(o_.leakBytesPerIteration, leakAddress_ + leakUsed_);
        }
        phase(PhaseKind::StepEnd, it);
        range("step", stepStart);
        advance(rng_.between(150'000, 400'000));  // host work between steps (data loading, logging)
        tick(now_);
    }

    TraceWriter& w_;
    SynthOptions o_;
    Random rng_;
    uint64_t tokens_ = 0, h_ = 0;
    uint64_t startNs_ = 1'000'000'000, now_ = 1'000'000'000;
    uint64_t nextCounterNs_ = 0, nextMemInfoNs_ = 0;
    uint64_t allocatedBytes_ = 0, reservedBytes_ = 0;
    uint64_t nextSegmentAddress_ = 0x7f3a00000000ull;
    uint64_t activationBase_ = 0, tempAddress_ = 0, logitsAddress_ = 0;
    uint64_t leakAddress_ = 0, leakUsed_ = 0, leakCapacity_ = 0;
    uint32_t correlation_ = 0;
    std::vector<uint64_t> weightSizes_, weightAddresses_, gradAddresses_;
    std::vector<Interval> intervals_;
};

}  // namespace

SynthSize synthSize(const SynthOptions& o) {
    // The generator's kernels and their work (FLOPs or bytes), summed once
    // per iteration: every layer is the same.
    const double T = double(o.batch) * o.sequenceLength, H = o.hidden, S = o.sequenceLength, L = o.layers;
    const double V = 50257;  // vocabulary
    const double parameterBytes = V * H * 2 + L * 24 * H * H;
    auto kernelNs = [](std::initializer_list<double> flops, std::initializer_list<double> bytes) {
        double ns = 0;  // each with its launch gap (2.75 µs on average)
        for (double w : flops) ns += std::max(2'000.0, w / kAchievedFlops * 1e9) + 2'750;
        for (double w : bytes) ns += std::max(2'000.0, w / kAchievedBytes * 1e9) + 2'750;
        return ns;
    };
    const double forwardNs = kernelNs({6 * T * H * H, 4 * T * S * H, 2 * T * H * H, 8 * T * H * H, 8 * T * H * H},
                                      {4 * T * H, 6 * T * H, 4 * T * H, 16 * T * H, 6 * T * H});
    const double backwardNs = kernelNs({8 * T * H * H, 8 * T * H * H, 8 * T * H * H, 8 * T * H * H, 2 * T * H * H,
                                        2 * T * H * H, 10 * T * S * H, 6 * T * H * H, 6 * T * H * H},
                                       {24 * T * H, 6 * T * H, 2 * T * H, 6 * T * H, 6 * T * H});
    const double restNs = kernelNs({2 * T * H * V, 2 * T * H * V, 2 * T * H * V},
                                   {4 * T * H, 4 * T * H, 4 * T * V, 4 * T * V, 6 * T * H, parameterBytes * 7 / 4,
                                    parameterBytes * 7 / 4, parameterBytes * 7 / 4, parameterBytes * 7 / 4});
    const double kernels = L * (10 + 14 + (o.checkpointing ? 10 : 0)) + 13;
    // Tensor records (a free is two): per layer, forward's 8 saved and a
    // temporary, backward's 6 allocations and 10 frees, and with
    // checkpointing 7 frees in forward and 7 re-created with a temporary.
    const double tensorRecords = L * (11 + 26 + (o.checkpointing ? 14 + 10 : 0)) + 4 * L * 2 + 12;
    const double iterationNs = L * (forwardNs * (o.checkpointing ? 2 : 1) + backwardNs) + restNs + tensorRecords * 500 +
                               T * 8 / 20 + 280'000;
    SynthSize out;
    out.durationNs = o.iterations * iterationNs + parameterBytes / 25e9 * 1e9 + 2e6;
    const double samples = out.durationNs / kCounterIntervalNs * 3 + out.durationNs / kMemInfoIntervalNs;
    const double markers = o.phaseMarkers ? 9 + (o.checkpointing ? 2 * L : 0) : 0;  // phases, ranges
    out.events = o.iterations * (kernels + tensorRecords + markers + 1) + samples + L * 12 + 20;
    out.bytes = out.events * 3.5 + 2'500;  // measured: 3.1 to 3.7 bytes per event, past the names
    return out;
}

bool writeSynthTrace(const std::string& path, const SynthOptions& options, SynthResult* result, std::string* error) {
    if (const double events = synthSize(options).events; events > double(options.maxEvents)) {
        if (error)
            *error = "the trace would hold about " + std::to_string(uint64_t(events)) + " events; a synthetic trace holds at most " +
                     std::to_string(options.maxEvents);
        return false;
    }
    WriterOptions writerOptions;
    writerOptions.createdUnixNs = kSynthWallClockNs;
    TraceWriter writer(writerOptions);
    if (!writer.open(path, error)) return false;
    Generator g(writer, options);
    g.run();
    bool ok = writer.close();
    if (!ok && error) *error = path + ": " + writer.error();
    if (result) {
        *result = g.result;
        result->events = writer.eventsWritten();
        result->bytes = writer.bytesWritten();
    }
    return ok;
}

}  // namespace vramscope::synth
