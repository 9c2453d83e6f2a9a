using static TorchSharp.torch;

namespace WebLlm.Training.Training;

/// <summary>
/// AdamW as PyTorch computes it, with nanoGPT's grouping: weight decay only on tensors with two or more
/// dimensions (matrices and embeddings), never on biases and LayerNorm gains. Written here rather than
/// taken from TorchSharp so its state (the two moments) is plain tensors we can checkpoint exactly and
/// lay out for speed.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly (string Name, Tensor Param, Tensor M, Tensor V, bool Decay)[] groups;

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    /// <summary>Number of updates applied so far (bias correction depends on it).</summary>
    public long StepCount { get; private set; }

    public AdamW(IEnumerable<(string Name, Tensor Param)> parameters, double beta1 = 0.9, double beta2 = 0.95,
        double eps = 1e-8, double weightDecay = 0.1)
    {
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay;
        groups = parameters.Select(p => (p.Name, p.Param,
            zeros_like(p.Param).DetachFromDisposeScope(),
            zeros_like(p.Param).DetachFromDisposeScope(),
            p.Param.dim() >= 2)).ToArray();
    }

    public IEnumerable<(string Name, Tensor M, Tensor V)> State => groups.Select(g => (g.Name, g.M, g.V));

    /// <summary>
    /// One update. Folding the bias corrections into the step size and epsilon (Adam paper, section 2;
    /// PyTorch before its 2.x rewrite) saves two full passes over every parameter; the optimizer is memory
    /// bound, so passes are what it costs.
    /// </summary>
    public void Step(double lr)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        StepCount++;
        double bc1 = 1 - Math.Pow(Beta1, StepCount);
        double sqrtBc2 = Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
        double stepSize = lr * sqrtBc2 / bc1;
        double eps = Eps * sqrtBc2;
        Tensor? mixWeight = null;
        foreach (var (_, p, m, v, decay) in groups)
        {
            var g = p.grad;
            if (g is null) continue;
            mixWeight ??= tensor(1 - Beta1, dtype: m.dtype, device: m.device);
            if (decay && WeightDecay != 0) p.mul_(1 - lr * WeightDecay);
            m.lerp_(g, mixWeight);                      // m = β1·m + (1-β1)·g in one pass
            v.mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            p.addcdiv_(m, v.sqrt().add_(eps), value: -stepSize);
        }
    }

    /// <summary>Drops the gradients (PyTorch's set_to_none): cheaper than zeroing them; backward allocates fresh ones.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p, _, _, _) in groups)
            p.grad = null;
    }

    /// <summary>Restores moments and step count saved from an optimizer over the same parameters.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> moments, long stepCount)
    {
        using var noGrad = no_grad();
        foreach (var (name, _, m, v, _) in groups)
        {
            m.copy_(moments.TryGetValue(name + ".exp_avg", out var mm) ? mm : throw new InvalidDataException($"Optimizer state lacks {name}.exp_avg."));
            v.copy_(moments.TryGetValue(name + ".exp_avg_sq", out var vv) ? vv : throw new InvalidDataException($"Optimizer state lacks {name}.exp_avg_sq."));
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var (_, _, m, v, _) in groups) { m.Dispose(); v.Dispose(); }
    }
}
