#include "core/train/layer_activations.h"

#include <set>
#include <string>
#include <utility>

#include "core/train/trained_tensors.h"

namespace lathe {

namespace {

constexpr double kFloat32 = 4;  // per-row statistics (1/rms, logsumexp) are float32 whatever the dtype

// One decoder layer of the run, as its ops see it.
struct LayerView {
    const ArchSpec& arch;
    const ModelConfig& model;
    ActivationOps ops;
    double x = 4;                       // bytes of one activation element
    double hidden = 0, inter = 0;       // widths: the residual stream, the MLP
    double q = 0, kv = 0;               // heads x head_dim of q, and of k and v
    double heads = 0, kv_heads = 0;
    double r = 0, dropout = 0;          // LoRA rank and dropout on the adapters' input
    bool dora = false;
    bool base_4bit = false;             // QLoRA: the frozen base weights in 4 bits
    ModelConfig::Dropout base_dropout;  // the base model's own dropouts, when the run keeps them on
    std::set<std::string> trained;      // the names trained_tensors() gives the run's trained tensors
    int index = 0;                      // the layer looked at: the second one (the first keeps less)

    bool has(const char* tmpl) const { return tmpl && *tmpl; }
    // The linear layer named by `tmpl` carries a LoRA adapter.
    bool adapted(const char* tmpl) const {
        return has(tmpl) && trained.count("base_model.model." + layer_tensor_name(tmpl, index) + ".lora_A.weight") > 0;
    }
    // Its own weight trains (full finetuning, or modules_to_save beside an adapter).
    bool trains(const char* tmpl) const { return has(tmpl) && trained.count(layer_tensor_name(tmpl, index) + ".weight") > 0; }
};

// What a dropout keeps of a tensor `width` wide, beside its output: on the CPU at::dropout multiplies by
// float noise of the tensor's dtype and keeps it; on CUDA its fused kernel keeps a bool mask.
double dropout_keeps(const LayerView& l, double width) { return width * (l.ops.on_cpu ? l.x : 1.0); }

// What a LoRA linear keeps beside its output (docs/kernels.md, "LoRA linear"), for an input `in` and an
// output `out` wide: A(x_d), r wide, always; its input x (`input`: shared by the linears reading it, so the
// caller counts it once) unless the composite's dropout keeps x_d and the noise instead (the frozen base
// needs no x). The fused op's dropout keeps the mask as bits on the CPU and nothing on CUDA (it draws the
// mask again there). DoRA runs the composite, and keeps the sum base + adapter for the magnitude's gradient.
struct AdapterKeeps {
    double bytes = 0;
    bool input = false;
};
// The fused LoRA ops' dropout mask for an input `in` wide: one bit an element on the CPU, nothing on CUDA.
double fused_mask_keeps(const LayerView& l, double in) { return l.dropout > 0 && l.ops.on_cpu ? in / 8 : 0; }

AdapterKeeps lora_keeps(const LayerView& l, double in, double out) {
    AdapterKeeps k{.bytes = l.r * l.x, .input = false};
    const bool composite = !l.ops.fused || l.dora;
    if (l.dropout > 0 && composite) {
        k.bytes += in * l.x + dropout_keeps(l, in);  // x_d and the noise (or mask)
    } else {
        k.input = true;
        k.bytes += fused_mask_keeps(l, in);
    }
    if (l.dora) k.bytes += out * l.x;
    return k;
}

// A norm's share: its input (the residual stream) and per row its statistics. The fused RMSNorm keeps x
// and 1/rms; the composite a float32 x (x itself, or a float32 copy of a bfloat16 x, while the bfloat16 x
// is kept by nothing) and 1/rms, and the normalised rows when the weight trains (float32 for Gemma's
// 1 + weight, scaled in float32). LayerNorm (GPT-2) keeps x, its mean and 1/std.
double norm_keeps(const LayerView& l, const char* tmpl, double width, double rows) {
    if (l.arch.norm == NormKind::LayerNorm) return width * l.x + 2 * rows * (l.ops.on_cpu ? l.x : kFloat32);  // ATen's CPU kernel: x's dtype
    if (l.ops.fused) return width * l.x + rows * kFloat32;
    double bytes = width * kFloat32 + rows * kFloat32;
    if (l.trains(tmpl)) bytes += width * (l.arch.norm == NormKind::RMSPlusOne ? kFloat32 : l.x);
    return bytes;
}

// The residual dropout on the attention and MLP outputs (GPT-2's resid_pdrop), when the base model's
// dropout is on.
double residual_dropout_keeps(const LayerView& l) { return l.base_dropout.residual > 0 ? 2 * dropout_keeps(l, l.hidden) : 0; }

// The projections reading one input `in` wide (q, k, v or qkv, gate, up, gate_up or fc reading a normed
// input; o reading the attention output; down reading the MLP's): their adapters, and that input once if
// any of them keeps it (an adapter, or a trained weight whose gradient needs it) and `input_kept` does not
// say that something else keeps it already.
struct Projection {
    const char* tmpl;
    double out;
};
double projections_keep(const LayerView& l, double in, std::initializer_list<Projection> projections, bool input_kept = false) {
    double bytes = 0;
    bool input = false;
    for (const Projection& p : projections) {
        if (!l.has(p.tmpl)) continue;
        input = input || l.trains(p.tmpl);
        if (!l.adapted(p.tmpl)) continue;
        const AdapterKeeps k = lora_keeps(l, in, p.out);
        bytes += k.bytes;
        input = input || k.input;
    }
    return bytes + (input && !input_kept ? in * l.x : 0);
}

// Qwen3's per-head RMSNorm on q and k keeps their projections' output (as norm_keeps does), one row per head.
double qk_norm_keeps(const LayerView& l) {
    if (!l.arch.qk_norm) return 0;
    return norm_keeps(l, l.arch.q_norm, l.q, l.heads) + norm_keeps(l, l.arch.k_norm, l.kv, l.kv_heads);
}

// Attention. SDPA's flash kernel (the CPU's and CUDA's, and the per-sequence SDPA of padded rows) keeps q,
// k and v after rotary, its output and the logsumexp of each head and row. The fused rotary turns q and k
// in place; the composite returns new ones, and where one qkv projection makes q, k and v, v still holds
// that output whole. On the CPU the attention's own dropout (GPT-2's attn_pdrop) takes SDPA's math path,
// which computes in float32 and keeps the scaled q and k, v, and the [heads, T] probabilities of each
// token three times (the softmax, the dropout's noise and its output), but not q, k, v or the output.
double attention_keeps(const LayerView& l) {
    const ArchSpec& a = l.arch;
    double bytes = a.fused_qkv ? projections_keep(l, l.hidden, {{a.qkv, l.q + 2 * l.kv}})
                               : projections_keep(l, l.hidden, {{a.q, l.q}, {a.k, l.kv}, {a.v, l.kv}});
    bytes += qk_norm_keeps(l);
    const bool math_path = l.ops.on_cpu && l.base_dropout.attention > 0;
    if (!math_path) {
        bytes += (l.q + 2 * l.kv) * l.x + l.q * l.x + l.heads * kFloat32;
        if (a.fused_qkv && a.positions == Positions::Rope && !l.ops.fused) bytes += (l.q + l.kv) * l.x;
    } else {
        const double grouped = l.heads != l.kv_heads ? l.q : l.kv;  // k and v repeated to every head (GQA)
        // v itself where SDPA needs no float32 or repeated copy of it; a view of one qkv projection keeps
        // that projection's whole output.
        const bool v_itself = !l.ops.bf16 && l.heads == l.kv_heads;
        const double value = v_itself && a.fused_qkv ? l.q + 2 * l.kv : grouped;
        bytes += (l.q + grouped + value) * kFloat32 + 3 * l.heads * static_cast<double>(l.ops.sequence) * kFloat32;
    }
    // o reads the attention output, which the flash path keeps already.
    return bytes + projections_keep(l, l.q, {{a.o, l.hidden}}, /*input_kept=*/!math_path);
}

// The activations kernels::gate_activation_named knows (silu, gelu, tanh-gelu); others (relu) keep the
// composite, counted here as the composite SiLU's gate, up and act(gate).
bool has_fused_gate_activation(const std::string& act) {
    return act == "silu" || act == "gelu" || act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast";
}

// kernels::gated_down_lora takes the down projection (gated_mlp_down.cpp): a plain LoRA on a frozen float
// weight without bias, after an activation it has a fused op for (its composite with LATHE_FUSED_OPS=0).
bool gated_down_lora_takes(const LayerView& l) {
    return l.arch.mlp != MlpKind::Plain && has_fused_gate_activation(l.model.hidden_act) && l.adapted(l.arch.down) && !l.dora &&
           !l.base_4bit && !l.model.mlp_bias && !l.trains(l.arch.down);
}

// The MLP. Gated (Llama and kin): gate and up, which the gated activation's backward reads; the composite
// also keeps act(gate), the fused op recomputes it. The down projection's input act(gate) * up is kept
// where its LoRA linear or its trained weight needs it, except under kernels::gated_down_lora, which
// takes gate and up and recomputes it. Plain (GPT-2): fc's output for the activation, and the
// activation's output where the down projection (c_proj) needs it.
double mlp_keeps(const LayerView& l) {
    const ArchSpec& a = l.arch;
    double bytes = 0;
    switch (a.mlp) {
        case MlpKind::Gated: bytes += projections_keep(l, l.hidden, {{a.gate, l.inter}, {a.up, l.inter}}) + 2 * l.inter * l.x; break;
        case MlpKind::GatedFused: bytes += projections_keep(l, l.hidden, {{a.gate_up, 2 * l.inter}}) + 2 * l.inter * l.x; break;
        case MlpKind::Plain: bytes += projections_keep(l, l.hidden, {{a.up, l.inter}}) + l.inter * l.x; break;
    }
    if (a.mlp != MlpKind::Plain) {
        if (l.ops.fused && gated_down_lora_takes(l)) return bytes + l.r * l.x + fused_mask_keeps(l, l.inter);  // A(h_d), and the mask
        if (!l.ops.fused || !has_fused_gate_activation(l.model.hidden_act)) bytes += l.inter * l.x;  // act(gate)
    }
    return bytes + projections_keep(l, l.inter, {{a.down, l.hidden}});
}

// What a layer keeps once, whatever the tokens. LoRA in bfloat16: each forward casts the float32 A [r, in]
// and B [out, r] to bfloat16, and the products keep the copies (as PEFT under autocast). DoRA: the scale
// magnitude / ||W + BA|| of each output, in the compute dtype. The composite Gemma RMSNorm: 1 + weight in
// float32.
double per_layer_keeps(const LayerView& l) {
    const ArchSpec& a = l.arch;
    const double h = l.hidden, i = l.inter;
    struct Linear {
        const char* tmpl;
        double in, out;
    };
    const Linear linears[] = {{a.q, h, l.q},         {a.k, h, l.kv}, {a.v, h, l.kv},          {a.qkv, h, l.q + 2 * l.kv}, {a.o, l.q, h},
                              {a.gate, h, i},        {a.up, h, i},   {a.gate_up, h, 2 * i},   {a.down, i, h}};
    double bytes = 0;
    for (const Linear& linear : linears) {
        if (!l.adapted(linear.tmpl)) continue;
        if (l.ops.bf16) bytes += l.r * (linear.in + linear.out) * 2;
        if (l.dora) bytes += linear.out * l.x;
    }
    if (a.norm == NormKind::RMSPlusOne && !l.ops.fused) bytes += 2 * h * kFloat32;
    return bytes;
}

LayerView view_of(const TrainConfig& c, const ModelConfig& m, const ActivationOps& ops) {
    const bool lora = uses_lora(c);
    const double heads = static_cast<double>(m.num_heads), kv_heads = static_cast<double>(m.num_kv_heads);
    std::set<std::string> trained;
    for (const TrainedTensor& t : trained_tensors(c, m, ops.bf16)) trained.insert(t.name);
    return {.arch = *m.arch,
            .model = m,
            .ops = ops,
            .x = ops.bf16 ? 2.0 : 4.0,
            .hidden = static_cast<double>(m.hidden_size),
            .inter = static_cast<double>(m.intermediate_size),
            .q = heads * static_cast<double>(m.head_dim),
            .kv = kv_heads * static_cast<double>(m.head_dim),
            .heads = heads,
            .kv_heads = kv_heads,
            .r = lora ? static_cast<double>(c.lora_r) : 0.0,
            .dropout = lora ? c.lora_dropout : 0.0,
            .dora = lora && c.peft_use_dora,
            .base_4bit = lora && (c.adapter == "qlora" || m.quantization.has_value()),
            .base_dropout = c.base_model_dropout ? m.dropout : ModelConfig::Dropout{},  // the trainer switches them off otherwise
            .trained = std::move(trained),
            .index = m.num_layers > 1 ? 1 : 0};
}

}  // namespace

bool runs_on_cpu(const TrainConfig& c) { return c.device == "cpu"; }

LayerActivations layer_activations(const TrainConfig& c, const ModelConfig& m, const ActivationOps& ops) {
    const LayerView l = view_of(c, m, ops);
    const double per_token = norm_keeps(l, l.arch.attn_norm, l.hidden, 1) + norm_keeps(l, l.arch.mlp_norm, l.hidden, 1) +
                             attention_keeps(l) + mlp_keeps(l) + residual_dropout_keeps(l);
    return {.per_token = per_token, .per_layer = per_layer_keeps(l)};
}

LayerActivations checkpointed_layer(const ModelConfig& m, const ActivationOps& ops) {
    // The generator's state: the CPU's Mersenne Twister (CPUGeneratorImplState), CUDA's seed and offset.
    const double generator_state = ops.on_cpu ? 5056 : 16;
    return {.per_token = static_cast<double>(m.hidden_size) * (ops.bf16 ? 2 : 4), .per_layer = generator_state};
}

}  // namespace lathe
