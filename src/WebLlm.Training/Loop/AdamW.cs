using static TorchSharp.torch;

namespace WebLlm.Training.Loop;

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
    /// One update, with every gradient first multiplied by <paramref name="gradScale"/> (gradient clipping's factor,
    /// applied here so clipping need not rewrite the gradients in a pass of its own). Folding the bias corrections
    /// into the step size and epsilon (Adam paper, section 2; PyTorch before its 2.x rewrite) saves two more passes;
    /// the optimizer is memory bound, so passes are what it costs. CPU tensors take <see cref="FusedAdamW"/>'s single
    /// pass; others (CUDA) libtorch's kernels.
    /// </summary>
    public void Step(double lr, double gradScale = 1)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        StepCount++;
        double bc1 = 1 - Math.Pow(Beta1, StepCount);
        double sqrtBc2 = Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
        double stepSize = lr * sqrtBc2 / bc1;
        double eps = Eps * sqrtBc2;
        var fused = new List<FusedAdamW.Update>(groups.Length);
        Tensor? mixWeight = null;
        foreach (var (_, p, m, v, decay) in groups)
        {
            var g = p.grad;
            if (g is null) continue;
            double decayFactor = decay ? 1 - lr * WeightDecay : 1;
            if (FusedAdamW.Applies(p, g, m, v))
            {
                fused.Add(FusedAdamW.For(p, g, m, v,
                    new((float)gradScale, (float)decayFactor, (float)Beta1, (float)Beta2, (float)eps, (float)stepSize)));
                continue;
            }
            if (gradScale != 1) g = g.mul(gradScale);
            mixWeight ??= tensor(1 - Beta1, dtype: m.dtype, device: m.device);
            if (decayFactor != 1) p.mul_(decayFactor);
            m.lerp_(g, mixWeight);                      // m = β1·m + (1-β1)·g in one pass
            v.mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            p.addcdiv_(m, v.sqrt().add_(eps), value: -stepSize);
        }
        if (fused.Count > 0) FusedAdamW.Run(fused, get_num_threads());
    }

    /// <summary>
    /// The global L2 norm of the gradients, as <c>clip_grad_norm_</c> computes it but without its rescale, which
    /// rewrites every gradient (and does so even when the factor is 1); <see cref="Step"/> applies the factor instead.
    /// </summary>
    public double GradientNorm()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var norms = groups.Select(group => group.Param.grad).OfType<Tensor>().Select(g => linalg.vector_norm(g)).ToArray();
        return norms.Length == 0 ? 0 : linalg.vector_norm(stack(norms)).item<float>();
    }

    /// <summary>clip_grad_norm_'s factor for the gradients, max_norm / (norm + 1e-6) and at most 1; 1 when clipping is off (maxNorm 0).</summary>
    public static double ClipScale(double norm, double maxNorm) => maxNorm > 0 ? Math.Min(1, maxNorm / (norm + 1e-6)) : 1;

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
