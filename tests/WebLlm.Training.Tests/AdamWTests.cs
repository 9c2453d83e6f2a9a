using TorchSharp.Modules;
using static TorchSharp.torch;

namespace WebLlm.Training.Tests;

public class AdamWTests
{
    [Fact]
    public void Matches_torch_AdamW_on_matrices()
    {
        manual_seed(2);
        using var init = randn(16, 8);
        var ours = new Parameter(init.clone());
        var theirs = new Parameter(init.clone());
        using var opt = new Training.AdamW([("w", ours)], beta1: 0.9, beta2: 0.95, weightDecay: 0.1);
        var reference = optim.AdamW([theirs], lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);
        for (int step = 0; step < 20; step++)
        {
            using var target = randn(16, 8);
            foreach (var p in new[] { ours, theirs })
            {
                using var loss = (p - target).pow(2).sum();
                loss.backward();
            }
            opt.Step(1e-2);
            reference.step();
            opt.ZeroGrad();
            reference.zero_grad();
        }
        Assert.True(ours.allclose(theirs, rtol: 1e-5, atol: 1e-6), $"max difference {(ours - theirs).abs().max().item<float>()}");
    }

    [Fact]
    public void Vectors_get_no_weight_decay()
    {
        var bias = new Parameter(ones(4));
        using var opt = new Training.AdamW([("b", bias)], weightDecay: 0.5);
        using (var loss = (bias * 0).sum()) loss.backward(); // zero gradient: only decay could move it
        opt.Step(0.1);
        Assert.True(bias.equal(ones(4)).all().item<bool>());
    }
}
