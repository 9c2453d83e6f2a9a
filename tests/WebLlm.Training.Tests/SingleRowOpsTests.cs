using WebLlm.Training.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WebLlm.Training.Tests;

public class SingleRowOpsTests
{
    // Widths off the 8-wide loops, a single element, and gpt2's own.
    public static TheoryData<int> Widths => new() { 1, 7, 13, 65, 768, 3072 + 5 };

    [Theory]
    [MemberData(nameof(Widths))]
    public void Layer_norm_matches_libtorch(int width)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)width);
        // An offset far from zero and a large spread: the variance must not lose digits to the mean.
        var x = randn([1, 1, width], generator: generator) * 3 + 40; // [1, 1, C]
        using var ln = nn.LayerNorm(width);
        ln.weight!.copy_(randn([width], generator: generator));
        ln.bias!.copy_(randn([width], generator: generator));
        var reference = F.layer_norm(x, [width], ln.weight, ln.bias);

        Assert.True(SingleRowOps.Applies(x) && SingleRowOps.Applies(ln, x));
        var y = SingleRowOps.LayerNorm(x, ln);

        Assert.Equal(reference.shape, y.shape);
        Assert.True(y.allclose(reference, rtol: 1e-5, atol: 1e-5), $"max difference {(y - reference).abs().max().item<float>()}");
    }

    [Fact]
    public void Layer_norm_without_a_bias_matches_libtorch()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = randn([1, 1, 37], generator: new Generator(5));
        using var ln = nn.LayerNorm(37, bias: false);
        ln.weight!.copy_(randn([37], generator: new Generator(6)));
        var y = SingleRowOps.LayerNorm(x, ln);
        Assert.True(y.allclose(F.layer_norm(x, [37], ln.weight, null), rtol: 1e-5, atol: 1e-5));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Add_then_layer_norm_updates_the_residual_in_place(int width)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)width + 100);
        var x = randn([1, 1, width], generator: generator);
        var delta = randn([1, 1, width], generator: generator);
        using var ln = nn.LayerNorm(width);
        var sum = x + delta;
        var reference = F.layer_norm(sum, [width], ln.weight, ln.bias);

        var y = SingleRowOps.AddLayerNorm(x, delta, ln);

        Assert.True(x.equal(sum).all().item<bool>(), "x does not hold the sum");
        Assert.True(y.allclose(reference, rtol: 1e-5, atol: 1e-5), $"max difference {(y - reference).abs().max().item<float>()}");
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Gelu_matches_libtorchs_tanh_approximation(int width)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // Up to ±12: both tails, where the sigmoid form and libtorch's tanh round differently near zero.
        var x = randn([1, 1, width], generator: new Generator((ulong)width + 200)) * 4; // [1, 1, 4C]
        var reference = F.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh);
        var y = SingleRowOps.GeluTanh_(x.clone());
        Assert.True(y.allclose(reference, rtol: 1e-5, atol: 1e-6), $"max difference {(y - reference).abs().max().item<float>()}");
    }

    [Fact]
    public void Embedding_adds_the_token_and_position_rows()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var wte = randn([50, 13], generator: new Generator(7));
        var wpe = randn([9, 13], generator: new Generator(8));
        var x = SingleRowOps.Embed(tensor(new long[] { 42 }, [1, 1]), wte, wpe, position: 8);
        Assert.NotNull(x);
        Assert.True(x!.equal((wte[42] + wpe[8]).view(1, 1, 13)).all().item<bool>());
        Assert.Null(SingleRowOps.Embed(tensor(new long[] { 50 }, [1, 1]), wte, wpe, 0)); // not a token: libtorch reports it
        Assert.Null(SingleRowOps.Embed(tensor(new long[] { -1 }, [1, 1]), wte, wpe, 0));
        Assert.Null(SingleRowOps.Embed(tensor(new long[] { 3 }, [1, 1]), wte, wpe, 9)); // past the context
    }

    [Fact]
    public void Leaves_other_shapes_and_autograd_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var x = randn([1, 1, 16]);
        Assert.False(SingleRowOps.Applies(x)); // grad mode is on
        using var noGrad = no_grad();
        Assert.True(SingleRowOps.Applies(x));
        Assert.False(SingleRowOps.Applies(randn([1, 2, 16]))); // two tokens
        Assert.False(SingleRowOps.Applies(randn([2, 1, 16]))); // batch 2
        Assert.False(SingleRowOps.Applies(x.to(ScalarType.Float64)));
        Assert.False(SingleRowOps.Applies(randn([1, 1, 32]).slice(2, 0, 32, 2))); // strided
    }
}
