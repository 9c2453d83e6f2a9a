using WebLlm.Training.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WebLlm.Training.Tests;

public class SingleRowLinearTests
{
    // (in, out): odd sizes leave tails after the 32- and 8-wide loops; the large ones are shared with the helper thread.
    public static TheoryData<int, int, bool> Shapes => new()
    {
        { 1, 1, true }, { 7, 3, false }, { 13, 29, true }, { 33, 65, false }, { 100, 257, true },
        { 768, 2304, true }, { 3072, 768, true }, { 768, 5001, false }, { 129, 1031, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_linear(int inFeatures, int outFeatures, bool withBias)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (x, w, b) = Inputs(inFeatures, outFeatures, withBias, seed: inFeatures * 31 + outFeatures);
        var reference = F.linear(x, w, b);
        using var rows = new SingleRowLinear(useHelper: true);
        Assert.True(SingleRowLinear.Applies(x, w, b));
        var y = rows.Forward(x, w, b);
        Assert.Equal(reference.shape, y.shape);
        double tolerance = 1e-5 * Math.Sqrt(inFeatures);
        Assert.True(y.allclose(reference, rtol: 1e-5, atol: tolerance), $"max difference {(y - reference).abs().max().item<float>()}");
    }

    [Fact]
    public void Results_do_not_depend_on_the_helper_thread_or_concurrent_callers()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (x, w, b) = Inputs(768, 2304, withBias: true, seed: 3);
        using var alone = new SingleRowLinear(useHelper: false);
        using var shared = new SingleRowLinear(useHelper: true);
        var expected = alone.Forward(x, w, b);
        // Many products in a row exercise every hand-over (helper spinning, asleep, too late to help).
        for (int i = 0; i < 200; i++)
        {
            using var y = shared.Forward(x, w, b);
            Assert.True(y.equal(expected).all().item<bool>(), $"product {i} differs");
        }
        // Callers that find the helper taken compute alone; all must get the same bits.
        var mismatches = 0;
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            using var ng = no_grad();
            using var y = shared.Forward(x, w, b);
            if (!y.equal(expected).all().item<bool>()) Interlocked.Increment(ref mismatches);
        });
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void Reads_a_non_contiguous_row()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (_, w, b) = Inputs(64, 40, withBias: true, seed: 5);
        var wide = randn([1, 128], generator: new Generator(6));
        var x = wide.slice(1, 0, 128, 2); // [1, 64], stride 2
        Assert.False(x.is_contiguous());
        using var rows = new SingleRowLinear(useHelper: true);
        Assert.True(rows.Forward(x, w, b).allclose(F.linear(x, w, b), rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Leaves_batches_and_autograd_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var (x, w, b) = Inputs(16, 8, withBias: true, seed: 7);
        Assert.False(SingleRowLinear.Applies(x, w, b)); // grad mode is on
        using var noGrad = no_grad();
        Assert.False(SingleRowLinear.Applies(x.expand(3, 16), w, b)); // three rows
        Assert.False(SingleRowLinear.Applies(x.to(ScalarType.Float64), w.to(ScalarType.Float64), b!.to(ScalarType.Float64)));
        Assert.False(SingleRowLinear.Applies(x.narrow(1, 0, 15), w, b)); // 15 inputs for 16 columns: F.linear's error
        Assert.True(SingleRowLinear.Applies(x.view(1, 1, 16), w, b));
    }

    private static (Tensor X, Tensor W, Tensor? B) Inputs(int inFeatures, int outFeatures, bool withBias, int seed)
    {
        var g = new Generator((ulong)seed);
        var x = randn([1, inFeatures], generator: g);
        var w = randn([outFeatures, inFeatures], generator: g) / Math.Sqrt(inFeatures);
        var b = withBias ? randn([outFeatures], generator: g) : null;
        return (x, w, b);
    }
}
