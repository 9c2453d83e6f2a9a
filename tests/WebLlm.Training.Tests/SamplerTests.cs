using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Tests;

public class SamplerTests
{
    private static (Gpt Model, Tokenizer Tokenizer) MicroModel(int block = 32)
    {
        manual_seed(5);
        var tokenizer = CharTokenizer.FromCorpus(TestData.Corpus);
        return (new Gpt(TestData.Micro(vocab: tokenizer.VocabSize, block: block)), tokenizer);
    }

    [Fact]
    public void Same_seed_and_options_give_the_same_text()
    {
        var (model, tok) = MicroModel();
        using var _ = model;
        using var sampler = new Sampler(model, tok);
        var o = new SamplingOptions { MaxNewTokens = 40, Temperature = 1.0, TopK = 0, Seed = 99 };
        string a = sampler.Complete("First", o);
        string b = sampler.Complete("First", o);
        string c = sampler.Complete("First", o with { Seed = 100 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(40, tok.Encode(a).Length);
    }

    [Fact]
    public void Greedy_decoding_picks_the_argmax_of_a_full_forward_each_time()
    {
        var (model, tok) = MicroModel();
        using var _ = model;
        model.eval();
        var generated = new Sampler(model, tok)
            .Generate("Speak", new SamplingOptions { MaxNewTokens = 20, Temperature = 0 }).Select(t => t.Id).ToList();

        var context = tok.Encode("Speak").Select(i => (long)i).ToList();
        using var noGrad = no_grad();
        foreach (var id in generated)
        {
            using var logits = model.forward(tensor(context.ToArray(), [1, context.Count]));
            long expected = logits[0, -1].argmax().item<long>();
            Assert.Equal(expected, id);
            context.Add(id);
        }
    }

    [Fact]
    public void Log_probabilities_and_alternatives_equal_log_softmax_and_topk()
    {
        var (model, tok) = MicroModel();
        using var _ = model;
        model.eval();
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0.9, TopK = 5, Seed = 3, TopLogProbs = 4 };
        var generated = new Sampler(model, tok).Generate("Speak", options).ToList();

        var context = tok.Encode("Speak").Select(i => (long)i).ToList();
        using var noGrad = no_grad();
        foreach (var t in generated)
        {
            using var scope = NewDisposeScope();
            var logProbs = model.forward(tensor(context.ToArray(), [1, context.Count]))[0, -1].log_softmax(0); // [vocab]
            var (values, ids) = logProbs.topk(4);
            Assert.Equal(logProbs[t.Id].item<float>(), t.LogProb, 4);
            Assert.Equal(ids.data<long>().ToArray().Select(i => (int)i), t.Top!.Select(a => a.Id));
            Assert.Equal(values.data<float>().ToArray().Select(v => (double)v), t.Top!.Select(a => a.LogProb), (a, b) => Math.Abs(a - b) < 1e-4);
            Assert.Contains(t.Id, logProbs.topk(5).Item2.data<long>().ToArray().Select(i => (int)i)); // top-k = 5
            context.Add(t.Id);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(50257)]
    public void Log_sum_exp_matches_libtorch(int length)
    {
        using var values = randn(length, generator: new Generator((ulong)length)) * 8 + 3;
        float[] logits = values.data<float>().ToArray();
        logits[length / 2] = 40; // a clear winner, as trained models have
        using var withWinner = tensor(logits, dtype: ScalarType.Float64);
        double expected = withWinner.logsumexp(0).item<double>();
        Assert.Equal(expected, Sampler.LogSumExp(logits), 1e-9);
    }

    [Fact]
    public void Kv_cache_logits_equal_full_recomputation()
    {
        var (model, _) = MicroModel(block: 24);
        using var __ = model;
        model.eval();
        using var noGrad = no_grad();
        long[] ids = Enumerable.Range(0, 24).Select(i => (long)(i * 7 % 30)).ToArray();
        using var full = model.forward(tensor(ids, [1, ids.Length])); // [1, 24, V]
        using var cache = new KvCache(model.Config, 1, CPU);
        using var prefill = model.forward(tensor(ids[..10], [1, 10]), cache, lastOnly: false);
        Assert.True(prefill.allclose(full[.., ..10], atol: 1e-5));
        for (int t = 10; t < ids.Length; t++)
        {
            using var step = model.forward(tensor(new[] { ids[t] }, [1, 1]), cache, lastOnly: true);
            Assert.True(step[0, 0].allclose(full[0, t], atol: 1e-5), $"position {t} differs");
        }
        Assert.Equal(24, cache.Length);
    }

    [Fact]
    public void Generation_continues_past_the_context_window()
    {
        var (model, tok) = MicroModel(block: 16);
        using var _ = model;
        var tokens = new Sampler(model, tok).Generate("First Citizen:", new SamplingOptions { MaxNewTokens = 50, Temperature = 0.9, TopK = 10 }).ToList();
        Assert.Equal(50, tokens.Count);
    }

    [Fact]
    public void Stop_strings_end_the_text_before_them()
    {
        var (model, tok) = MicroModel();
        using var _ = model;
        using var sampler = new Sampler(model, tok);
        var o = new SamplingOptions { MaxNewTokens = 60, Temperature = 1.0, TopK = 0, Seed = 3 };
        string free = sampler.Complete("A", o);
        string stop = free.Substring(10, 2);
        string cut = sampler.Complete("A", o with { Stop = [stop] });
        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], cut);
    }

    [Fact]
    public void Top_k_of_one_is_greedy()
    {
        var (model, tok) = MicroModel();
        using var _ = model;
        using var sampler = new Sampler(model, tok);
        string greedy = sampler.Complete("All", new SamplingOptions { MaxNewTokens = 15, Temperature = 0 });
        string topk1 = sampler.Complete("All", new SamplingOptions { MaxNewTokens = 15, Temperature = 1.5, TopK = 1, Seed = 8 });
        string topp = sampler.Complete("All", new SamplingOptions { MaxNewTokens = 15, Temperature = 1.0, TopK = 0, TopP = 1e-6, Seed = 8 });
        Assert.Equal(greedy, topk1);
        Assert.Equal(greedy, topp);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        var (model, tok) = MicroModel();
        using var _ = model;
        using var sampler = new Sampler(model, tok);
        Assert.Throws<ArgumentException>(() => sampler.Generate("A", new SamplingOptions { Temperature = -1 }));
        Assert.Throws<ArgumentException>(() => sampler.Generate("A", new SamplingOptions { TopP = 0 }));
        Assert.Throws<ArgumentException>(() => sampler.Generate("A", new SamplingOptions { MaxNewTokens = 0 }));
        Assert.Throws<ArgumentException>(() => sampler.Generate("", new SamplingOptions()));
    }
}
