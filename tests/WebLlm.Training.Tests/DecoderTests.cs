using WebLlm.Training.Model;
using static TorchSharp.torch;

namespace WebLlm.Training.Tests;

public class DecoderTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Decoder_steps_give_the_logits_of_the_full_forward(bool bias)
    {
        // Wide enough that every projection and the head are shared with the helper thread (≥ 65,536 weights).
        var config = new GptConfig { NLayer = 2, NHead = 4, NEmbd = 256, BlockSize = 16, VocabSize = 4096, Bias = bias };
        using var model = new Gpt(config, seed: 2);
        model.eval();
        using var noGrad = no_grad();
        long[] ids = Enumerable.Range(0, 16).Select(i => (long)(i * 131 % 4096)).ToArray();
        using var full = model.forward(tensor(ids, [1, ids.Length])); // [1, 16, V]: libtorch's kernels, every position at once
        using var cache = new KvCache(config, 1, CPU);
        using var decoder = Decoder.For(model);
        Assert.NotNull(decoder); // these machines have AVX2 and FMA; elsewhere the sampler falls back to the model
        using var prefill = model.forward(tensor(ids[..5], [1, 5]), cache, lastOnly: false);
        for (int t = 5; t < ids.Length; t++)
        {
            using var step = decoder.Step(tensor(new[] { ids[t] }, [1, 1]), cache);
            Assert.NotNull(step);
            Assert.Equal([1, 1, 4096], step.shape);
            float difference = (step[0, 0] - full[0, t]).abs().max().item<float>();
            Assert.True(difference < 1e-4, $"position {t}: max difference {difference}");
        }
        Assert.Equal(16, cache.Length);
    }

    [Fact]
    public void Decoder_declines_steps_it_does_not_take_and_changes_nothing()
    {
        var config = TestData.Micro(block: 4);
        using var model = new Gpt(config, seed: 3);
        using var decoder = Decoder.For(model)!;
        using var cache = new KvCache(config, 1, CPU);
        var token = tensor(new long[] { 7 }, [1, 1]);

        model.train();
        using (no_grad()) Assert.Null(decoder.Step(token, cache)); // training mode: dropout and autograd belong to the model
        model.eval();
        Assert.Null(decoder.Step(token, cache)); // autograd on
        using var noGrad = no_grad();
        Assert.Null(decoder.Step(tensor(new long[] { config.VocabSize }, [1, 1]), cache)); // not a token: the model reports it
        Assert.Null(decoder.Step(tensor(new long[] { 1, 2 }, [1, 2]), cache)); // two tokens
        using (var batch2 = new KvCache(config, 2, CPU)) Assert.Null(decoder.Step(token, batch2));
        Assert.Equal(0, cache.Length);

        for (int t = 0; t < 4; t++) Assert.NotNull(decoder.Step(token, cache));
        Assert.Null(decoder.Step(token, cache)); // the cache is full
        Assert.Equal(4, cache.Length);
    }
}
