using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace WebLlm.Training.Model;

/// <summary>
/// <see cref="Gpt"/>'s forward pass for one new token at batch 1 on the CPU: every step of sampling after the prompt.
/// At that shape each projection is a single row, which <see cref="SingleRowLinear"/> computes on both cores at the
/// speed memory is read (libtorch uses one core), attention is one pass over the <see cref="KvCache"/>, and the
/// elementwise work runs on the row's memory (<see cref="SingleRowOps"/>) instead of about sixty libtorch calls a token.
/// It reads the model's own weight tensors by GPT-2's names and never writes them, so the model file stays the
/// architecture alone. The logits match <see cref="Gpt.forward(Tensor, KvCache?, bool)"/>'s up to rounding.
/// One generation owns a decoder: it holds a helper thread while it lives.
/// </summary>
public sealed class Decoder : IDisposable
{
    private readonly Gpt model;
    // Modules, not their tensors: a weight is read when it is used, so a model moved or reloaded since is never read stale.
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly Layer[] h;
    private readonly LayerNorm ln_f;
    private readonly SingleRowLinear rows;

    private sealed record Layer(LayerNorm ln_1, Linear c_attn, Linear attn_c_proj, LayerNorm ln_2, Linear c_fc, Linear mlp_c_proj);

    private Decoder(Gpt model, IReadOnlyDictionary<string, nn.Module> modules)
    {
        this.model = model;
        wte = (Embedding)modules["wte"];
        wpe = (Embedding)modules["wpe"];
        h = Enumerable.Range(0, model.Config.NLayer).Select(i => new Layer(
            (LayerNorm)modules[$"h.{i}.ln_1"], (Linear)modules[$"h.{i}.attn.c_attn"], (Linear)modules[$"h.{i}.attn.c_proj"],
            (LayerNorm)modules[$"h.{i}.ln_2"], (Linear)modules[$"h.{i}.mlp.c_fc"], (Linear)modules[$"h.{i}.mlp.c_proj"])).ToArray();
        ln_f = (LayerNorm)modules["ln_f"];
        // A helper thread only pays for itself on products of HelperMinWeights or more; the largest here is the head or c_fc.
        var config = model.Config;
        long largest = Math.Max(config.VocabSize, 4L * config.NEmbd) * config.NEmbd;
        rows = new SingleRowLinear(useHelper: Environment.ProcessorCount > 1 && largest >= SingleRowLinear.HelperMinWeights);
    }

    /// <summary>
    /// A decoder for <paramref name="model"/>, or null where its kernels do not apply: weights not contiguous fp32 in CPU
    /// memory, or a CPU without AVX2 and FMA (libtorch's own kernels are then the better choice).
    /// </summary>
    public static Decoder? For(Gpt model)
    {
        if (!Fma.IsSupported || !Avx.IsSupported || !Vector256.IsHardwareAccelerated) return null;
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        if (!model.parameters().All(CpuTensors.IsContiguousFloat)) return null;
        return new Decoder(model, modules);
    }

    /// <summary>
    /// The logits [1, 1, vocab] of <paramref name="idx"/> [1, 1], the token at position <c>cache.Length</c>, whose keys
    /// and values are appended to <paramref name="cache"/>. Null, with nothing changed, when this step is not one the
    /// decoder takes: autograd or training mode on, a cache that is not batch 1 fp32 on the CPU or is full, or an id that
    /// is not a token (the model's own forward then reports it).
    /// </summary>
    public Tensor? Step(Tensor idx, KvCache cache)
    {
        if (model.training || is_grad_enabled() || !cache.TakesOneRow || cache.Length >= cache.Capacity) return null;
        using var scope = NewDisposeScope();
        // Null as well when the weights are no longer fp32 in CPU memory (Embed checks them).
        var x = SingleRowOps.Embed(idx, wte.weight!, wpe.weight!, cache.Length); // [1, 1, C]
        if (x is null) return null;
        using var step = rows.BeginStep();
        for (int i = 0; i < h.Length; i++)
        {
            var b = h[i];
            // x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)): the residual stream is this pass's own row, updated in place.
            var qkv = Project(SingleRowOps.LayerNorm(x, b.ln_1), b.c_attn); // [1, 1, 3C]
            Debug.Assert(cache.CanAttendOne(i, qkv));
            var m = SingleRowOps.AddLayerNorm(x, Project(cache.AttendOne(i, qkv), b.attn_c_proj), b.ln_2); // x += attn; ln_2(x)
            var hidden = SingleRowOps.GeluTanh_(Project(m, b.c_fc)); // [1, 1, 4C]
            SingleRowOps.Add(x, Project(hidden, b.mlp_c_proj));
        }
        cache.Advance(1);
        x = SingleRowOps.LayerNorm(x, ln_f);
        return rows.Forward(x, wte.weight!, null).MoveToOuterDisposeScope(); // [1, 1, vocab]: the head is tied to wte
    }

    private Tensor Project(Tensor x, Linear linear) => rows.Forward(x, linear.weight!, linear.bias);

    public void Dispose() => rows.Dispose();
}
