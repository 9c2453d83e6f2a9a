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
        using var opt = new Loop.AdamW([("w", ours)], beta1: 0.9, beta2: 0.95, weightDecay: 0.1);
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
    public void Clipping_by_the_step_s_scale_matches_clip_grad_norm_then_torch_AdamW()
    {
        manual_seed(3);
        using var initW = randn(5, 9);
        using var initB = randn(37); // not a multiple of the vector width: the loop's scalar tail runs too
        Parameter[] ours = [new(initW.clone()), new(initB.clone())];
        Parameter[] theirs = [new(initW.clone()), new(initB.clone())];
        using var opt = new Loop.AdamW([("w", ours[0]), ("b", ours[1])], beta1: 0.9, beta2: 0.95, weightDecay: 0.1);
        // Two reference optimizers: decay on the matrix only, as ours groups them; one clip over both.
        var referenceW = optim.AdamW([theirs[0]], lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);
        var referenceB = optim.AdamW([theirs[1]], lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0);
        int clipped = 0;
        for (int step = 0; step < 12; step++)
        {
            using var targetW = randn(5, 9);
            using var targetB = randn(37);
            foreach (var (w, b) in new[] { (ours[0], ours[1]), (theirs[0], theirs[1]) })
            {
                using var loss = (w - targetW).pow(2).sum() * (step % 3 + 1) + (b - targetB).pow(2).sum();
                loss.backward();
            }
            double norm = opt.GradientNorm();
            double scale = Loop.AdamW.ClipScale(norm, 5.0);
            if (scale < 1) clipped++;
            opt.Step(1e-2, scale);
            double theirNorm = nn.utils.clip_grad_norm_(theirs, 5.0);
            referenceW.step();
            referenceB.step();
            Assert.Equal(theirNorm, norm, theirNorm * 1e-5);
            opt.ZeroGrad();
            referenceW.zero_grad();
            referenceB.zero_grad();
        }
        Assert.True(clipped > 6, $"only {clipped} of 12 steps clipped: the test would not see the scale");
        for (int i = 0; i < ours.Length; i++)
            Assert.True(ours[i].allclose(theirs[i], rtol: 1e-5, atol: 1e-6), $"parameter {i}: max difference {(ours[i] - theirs[i]).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(3, 43)]       // one thread, and the loop's scalar tail
    [InlineData(1025, 2049)]  // 2.1M elements: split into chunks over two threads where libtorch has two
    public void The_fused_cpu_pass_and_libtorch_s_kernels_give_the_same_update(int rows, int columns)
    {
        // float64 tensors are not what the fused pass reads, so the same optimizer takes libtorch's kernels for them.
        manual_seed(4);
        using var init = randn(rows, columns);
        var fused = new Parameter(init.clone());
        var kernels = new Parameter(init.to(ScalarType.Float64));
        using var a = new Loop.AdamW([("w", fused)], weightDecay: 0.1);
        using var b = new Loop.AdamW([("w", kernels)], weightDecay: 0.1);
        for (int step = 0; step < 15; step++)
        {
            using var target = randn(rows, columns);
            using (var loss = (fused - target).pow(2).sum()) loss.backward();
            using (var loss = (kernels - target.to(ScalarType.Float64)).pow(2).sum()) loss.backward();
            double scale = 0.2 + 0.2 * (step % 4); // varying: a constant scale would cancel out of Adam's m/√v
            a.Step(3e-2, scale);
            b.Step(3e-2, scale);
            a.ZeroGrad();
            b.ZeroGrad();
        }
        using var moved = (fused - init).abs().max();
        Assert.True(moved.item<float>() > 0.1, "the parameters barely moved: the comparison would prove nothing");
        Assert.True(fused.to(ScalarType.Float64).allclose(kernels, rtol: 1e-5, atol: 1e-6),
            $"max difference {(fused.to(ScalarType.Float64) - kernels).abs().max().item<double>()}");
    }

    [Fact]
    public void Vectors_get_no_weight_decay()
    {
        var bias = new Parameter(ones(4));
        using var opt = new Loop.AdamW([("b", bias)], weightDecay: 0.5);
        using (var loss = (bias * 0).sum()) loss.backward(); // zero gradient: only decay could move it
        opt.Step(0.1);
        Assert.True(bias.equal(ones(4)).all().item<bool>());
    }
}
