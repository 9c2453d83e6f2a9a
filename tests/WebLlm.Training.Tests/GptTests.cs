using WebLlm.Training.Model;
using static TorchSharp.torch;

namespace WebLlm.Training.Tests;

public class GptTests
{
    [Fact]
    public void Gpt2_preset_has_exactly_124_439_808_parameters()
    {
        var config = GptConfig.FromPreset("gpt2");
        Assert.Equal(124_439_808, config.ParameterCount);
        Assert.Equal(50257, config.VocabSize);
        Assert.Equal(1024, config.BlockSize);
    }

    [Theory]
    [InlineData("tiny", 4, 4, 128, 64)]
    [InlineData("baby", 6, 6, 384, 256)]
    [InlineData("gpt2-medium", 24, 16, 1024, 1024)]
    [InlineData("gpt2-large", 36, 20, 1280, 1024)]
    [InlineData("gpt2-xl", 48, 25, 1600, 1024)]
    public void Presets_have_their_published_shapes(string name, int layers, int heads, int width, int context)
    {
        var c = GptConfig.FromPreset(name);
        Assert.Equal((layers, heads, width, context), (c.NLayer, c.NHead, c.NEmbd, c.BlockSize));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Counted_parameters_match_the_module_with_the_head_tied(bool bias)
    {
        var config = TestData.Micro(bias: bias);
        using var model = new Gpt(config);
        long actual = model.parameters().Sum(p => p.numel());
        Assert.Equal(config.ParameterCount, actual);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("lm_head"));
    }

    [Fact]
    public void Parameter_names_are_gpt2s()
    {
        using var model = new Gpt(TestData.Micro());
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        foreach (var n in new[] { "wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.attn.c_attn.weight",
                     "h.0.attn.c_attn.bias", "h.0.attn.c_proj.weight", "h.0.ln_2.weight", "h.1.mlp.c_fc.weight",
                     "h.1.mlp.c_proj.bias", "ln_f.weight", "ln_f.bias" })
            Assert.Contains(n, names);
    }

    [Fact]
    public void Forward_gives_logits_of_shape_batch_time_vocab()
    {
        using var model = new Gpt(TestData.Micro(vocab: 50, block: 8));
        using var idx = randint(0, 50, [3, 8]);
        using var logits = model.forward(idx);
        Assert.Equal(new long[] { 3, 8, 50 }, logits.shape);
    }

    [Fact]
    public void Initialisation_follows_gpt2()
    {
        manual_seed(1);
        var config = new GptConfig { NLayer = 4, NHead = 4, NEmbd = 256, BlockSize = 64, VocabSize = 1000 };
        using var model = new Gpt(config);
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Assert.Equal(0.02, p["wte.weight"].std().item<float>(), 3);
        Assert.Equal(0.02 / Math.Sqrt(8), p["h.0.attn.c_proj.weight"].std().item<float>(), 3);
        Assert.Equal(0.02 / Math.Sqrt(8), p["h.3.mlp.c_proj.weight"].std().item<float>(), 3);
        Assert.Equal(0, p["h.0.attn.c_attn.bias"].abs().max().item<float>());
        Assert.Equal(1, p["ln_f.weight"].mean().item<float>(), 6);
    }

    [Fact]
    public void Loss_at_initialisation_is_close_to_ln_vocab()
    {
        manual_seed(7);
        var config = TestData.Micro(vocab: 512, block: 32);
        using var model = new Gpt(config);
        using var x = randint(0, 512, [8, 32]);
        using var y = randint(0, 512, [8, 32]);
        double loss = model.Loss(x, y).item<float>();
        Assert.InRange(loss, Math.Log(512) - 0.15, Math.Log(512) + 0.15);
    }

    [Fact]
    public void Changing_a_future_token_leaves_earlier_logits_unchanged()
    {
        manual_seed(3);
        using var model = new Gpt(TestData.Micro(vocab: 40, block: 10));
        model.eval();
        using var a = TestData.Tokens(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        using var b = TestData.Tokens(1, 2, 3, 4, 5, 6, 39, 38, 37, 36);
        using var la = model.forward(a);
        using var lb = model.forward(b);
        Assert.True(la[.., ..6].allclose(lb[.., ..6], rtol: 0, atol: 1e-6), "positions before the change must not see it");
        Assert.False(la[.., 6..].allclose(lb[.., 6..]), "positions at and after the change must see it");
    }

    [Fact]
    public void Memorising_one_batch_drives_the_loss_down()
    {
        manual_seed(11);
        using var model = new Gpt(TestData.Micro(vocab: 30, block: 16));
        using var x = randint(0, 30, [4, 16]);
        using var y = randint(0, 30, [4, 16]);
        using var opt = new Loop.AdamW(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), weightDecay: 0);
        double first = 0, last = 0;
        for (int i = 0; i < 150; i++)
        {
            opt.ZeroGrad();
            using var loss = model.Loss(x, y);
            if (i == 0) first = loss.item<float>();
            last = loss.item<float>();
            loss.backward();
            opt.Step(3e-3);
        }
        Assert.InRange(first, 3.0, 3.8);
        Assert.True(last < 0.3, $"loss after 150 steps on one batch was {last}");
    }

    [Fact]
    public void Invalid_configs_are_rejected_with_every_reason()
    {
        var e = Assert.Throws<ArgumentException>(() => new GptConfig { NEmbd = 100, NHead = 3, BlockSize = 0 }.Validate());
        Assert.Contains("divisible", e.Message);
        Assert.Contains("block size", e.Message);
        Assert.Throws<ArgumentException>(() => GptConfig.FromPreset("gpt5"));
    }
}
