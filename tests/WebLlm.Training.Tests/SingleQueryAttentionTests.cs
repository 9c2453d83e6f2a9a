using WebLlm.Training.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WebLlm.Training.Tests;

public class SingleQueryAttentionTests
{
    // (heads, head size, positions already cached): head sizes off the 16- and 8-wide loops, an empty cache, a full one.
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 0 }, { 4, 8, 5 }, { 3, 13, 17 }, { 12, 64, 0 }, { 12, 64, 79 }, { 12, 64, 1023 }, { 2, 24, 6 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_scaled_dot_product_attention_and_writes_the_cache(int heads, int headSize, int past)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int c = heads * headSize, capacity = Math.Max(past + 1, 8);
        var generator = new Generator((ulong)(heads * 1000 + headSize * 10 + past));
        var keys = randn([1, heads, capacity, headSize], generator: generator); // [1, nh, capacity, hs]
        var values = randn([1, heads, capacity, headSize], generator: generator);
        var qkv = randn([1, 1, 3 * c], generator: generator) * 2; // [1, 1, 3C]: wider scores than unit variance
        var (q, k, v) = Heads(qkv, heads, headSize); // each [1, nh, 1, hs]
        var expectedKeys = keys.clone();
        var expectedValues = values.clone();
        expectedKeys[.., .., past..(past + 1), ..] = k;
        expectedValues[.., .., past..(past + 1), ..] = v;
        var reference = F.scaled_dot_product_attention(q, expectedKeys[.., .., ..(past + 1), ..], expectedValues[.., .., ..(past + 1), ..])
            .transpose(1, 2).reshape(1, 1, c); // [1, 1, C]

        Assert.True(SingleQueryAttention.Applies(qkv, keys, values, past));
        var y = SingleQueryAttention.Forward(qkv, keys, values, past);

        Assert.Equal(reference.shape, y.shape);
        Assert.True(y.allclose(reference, rtol: 1e-5, atol: 1e-5), $"max difference {(y - reference).abs().max().item<float>()}");
        Assert.True(keys.equal(expectedKeys).all().item<bool>(), "the new key is not where it belongs");
        Assert.True(values.equal(expectedValues).all().item<bool>(), "the new value is not where it belongs");
    }

    [Fact]
    public void Leaves_other_shapes_and_autograd_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var keys = zeros([1, 2, 8, 4]);
        var values = zeros([1, 2, 8, 4]);
        var qkv = randn([1, 1, 24]);
        Assert.False(SingleQueryAttention.Applies(qkv, keys, values, 0)); // grad mode is on
        using var noGrad = no_grad();
        Assert.True(SingleQueryAttention.Applies(qkv, keys, values, 0));
        Assert.False(SingleQueryAttention.Applies(qkv, keys, values, 8)); // the cache is full
        Assert.False(SingleQueryAttention.Applies(randn([1, 2, 24]), keys, values, 0)); // two new tokens
        Assert.False(SingleQueryAttention.Applies(qkv, zeros([2, 2, 8, 4]), zeros([2, 2, 8, 4]), 0)); // batch 2
        Assert.False(SingleQueryAttention.Applies(qkv.to(ScalarType.Float64), keys, values, 0));
        Assert.False(SingleQueryAttention.Applies(randn([1, 1, 48]).slice(2, 0, 48, 2), keys, values, 0)); // strided
    }

    /// <summary>q, k, v [1, nh, 1, hs] as the model's attention splits them from qkv [1, 1, 3C].</summary>
    private static (Tensor Q, Tensor K, Tensor V) Heads(Tensor qkv, int heads, int headSize)
    {
        var parts = qkv.split(heads * headSize, dim: 2); // 3 × [1, 1, C]
        Tensor Split(Tensor t) => t.view(1, 1, heads, headSize).transpose(1, 2);
        return (Split(parts[0]), Split(parts[1]), Split(parts[2]));
    }
}
