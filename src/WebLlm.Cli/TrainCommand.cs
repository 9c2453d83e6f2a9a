using System.CommandLine;
using System.Globalization;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Data;
using WebLlm.Training.Model;
using WebLlm.Training.Loop;

namespace WebLlm.Cli;

public static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset folder made by 'webllm prepare'.", Required = true };
        var output = new Option<string>("--out") { Description = "Run folder: checkpoints go to <out>/checkpoints.", Required = true };
        var preset = new Option<string>("--preset") { Description = "Model shape: " + string.Join(", ", GptConfig.Presets.Keys) + ".", DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong([.. GptConfig.Presets.Keys]);
        var initFrom = new Option<string?>("--init-from") { Description = "Start from the weights of a checkpoint or run folder (fine-tuning; e.g. one made by 'webllm import'); the model shape is the checkpoint's." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out with its stored options (--steps may extend the run)." };
        var nLayer = new Option<int?>("--n-layer") { Description = "Override the preset's layer count." };
        var nHead = new Option<int?>("--n-head") { Description = "Override the preset's head count." };
        var nEmbd = new Option<int?>("--n-embd") { Description = "Override the preset's width." };
        var dropout = new Option<double?>("--dropout") { Description = "Dropout probability (default 0)." };
        var noBias = new Option<bool>("--no-bias") { Description = "No biases in Linear and LayerNorm layers." };
        var steps = new Option<int?>("--steps") { Description = "Optimizer steps (default 2000)." };
        var batch = new Option<int?>("--batch-size") { Description = "Sequences per micro-batch (default 12)." };
        var block = new Option<int?>("--block-size") { Description = "Training context (default: the model's)." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default 1e-3)." };
        var minLr = new Option<double?>("--min-lr") { Description = "Learning rate at the end of the cosine decay (default lr/10)." };
        var warmup = new Option<int?>("--warmup") { Description = "Linear warmup steps (default 100)." };
        var accum = new Option<int?>("--grad-accum") { Description = "Micro-batches per optimizer step (default 1)." };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "AdamW weight decay on matrices (default 0.1)." };
        var gradClip = new Option<double?>("--grad-clip") { Description = "Clip the gradient norm (default 1.0; 0 = off)." };
        var evalEvery = new Option<int?>("--eval-every") { Description = "Steps between val-loss evaluations (default 250; 0 = off)." };
        var evalBatches = new Option<int?>("--eval-batches") { Description = "Batches per evaluation (default 20)." };
        var sampleEvery = new Option<int?>("--sample-every") { Description = "Steps between samples (default 250; 0 = off)." };
        var sampleTokens = new Option<int?>("--sample-tokens") { Description = "Tokens per sample (default 120)." };
        var prompts = new Option<string[]>("--prompt") { Description = "Sample prompt (repeatable; default a newline).", AllowMultipleArgumentsPerToken = false };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Steps between checkpoints (default 500; 0 = only at the end)." };
        var seed = new Option<long?>("--seed") { Description = "Seed for weights, batches and dropout (default 1337)." };
        var threads = new Option<int?>("--threads") { Description = "libtorch threads (default: one per core)." };
        var device = new Option<string?>("--device") { Description = "auto, cpu or cuda (default auto)." };
        device.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        var peak = new Option<double?>("--peak-flops") { Description = "Peak FLOP/s for MFU (default: measured at start)." };
        var gpt2Vocab = CliRunner.Gpt2VocabOption();

        var command = new Command("train", "Train a GPT from scratch on a prepared dataset, printing one line per step.")
        {
            data, output, preset, initFrom, resume, nLayer, nHead, nEmbd, dropout, noBias, steps, batch, block, lr, minLr, warmup, accum,
            weightDecay, gradClip, evalEvery, evalBatches, sampleEvery, sampleTokens, prompts, checkpointEvery, seed, threads,
            device, peak, gpt2Vocab,
        };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            string outDir = parse.GetValue(output)!;
            string dataDir = parse.GetValue(data)!;
            if (!Directory.Exists(dataDir)) throw new DirectoryNotFoundException($"Dataset folder '{dataDir}' does not exist (make one with 'webllm prepare').");
            var meta = DatasetMeta.Load(dataDir);
            var dataset = Dataset.Load(dataDir, CliRunner.VocabFor(meta.Tokenizer.Kind, parse.GetValue(gpt2Vocab)));
            var trainingData = TrainingData.From(dataset);

            Trainer trainer;
            var folder = new RunFolder(outDir);
            if (parse.GetValue(resume))
            {
                var newest = folder.NewestCheckpoint()
                    ?? throw new FileNotFoundException($"--resume: no complete checkpoint in {folder.Checkpoints}.");
                var stored = Checkpoint.ReadManifest(newest.Directory).ReadTrainOptions()
                    ?? throw new InvalidDataException($"{newest.Directory} does not record its training options.");
                if (parse.GetValue(steps) is int more) stored = stored with { MaxSteps = more };
                trainer = Trainer.Resume(outDir, trainingData, stored, newest.Directory);
                Console.WriteLine($"resumed {outDir} at step {trainer.Step} from {newest.Directory}");
            }
            else
            {
                if (folder.ListCheckpoints().Count > 0)
                    throw new ArgumentException($"{outDir} already has checkpoints: pass --resume to continue it, or choose another --out.");
                string? init = parse.GetValue(initFrom) is string i ? SampleCommand.ResolveCheckpoint(i) : null;
                var config = init is null
                    ? GptConfig.FromPreset(parse.GetValue(preset)!) with { VocabSize = meta.VocabSize }
                    : Checkpoint.ReadManifest(init).Model;
                if (init is not null && (parse.GetValue(nLayer) ?? parse.GetValue(nHead) ?? parse.GetValue(nEmbd)) is not null
                    || init is not null && (parse.GetValue(noBias) || parse.GetValue(dropout) is not null))
                    throw new ArgumentException("With --init-from the model's shape comes from the checkpoint: drop --n-layer, --n-head, --n-embd, --dropout and --no-bias.");
                if (init is null) config = config with
                {
                    NLayer = parse.GetValue(nLayer) ?? config.NLayer,
                    NHead = parse.GetValue(nHead) ?? config.NHead,
                    NEmbd = parse.GetValue(nEmbd) ?? config.NEmbd,
                    Dropout = parse.GetValue(dropout) ?? config.Dropout,
                    Bias = !parse.GetValue(noBias),
                };
                var d = new TrainOptions();
                var options = d with
                {
                    MaxSteps = parse.GetValue(steps) ?? d.MaxSteps,
                    BatchSize = parse.GetValue(batch) ?? d.BatchSize,
                    BlockSize = parse.GetValue(block) ?? d.BlockSize,
                    LearningRate = parse.GetValue(lr) ?? d.LearningRate,
                    MinLearningRate = parse.GetValue(minLr) ?? d.MinLearningRate,
                    WarmupSteps = parse.GetValue(warmup) ?? d.WarmupSteps,
                    GradAccumSteps = parse.GetValue(accum) ?? d.GradAccumSteps,
                    WeightDecay = parse.GetValue(weightDecay) ?? d.WeightDecay,
                    GradClip = parse.GetValue(gradClip) ?? d.GradClip,
                    EvalEvery = parse.GetValue(evalEvery) ?? d.EvalEvery,
                    EvalBatches = parse.GetValue(evalBatches) ?? d.EvalBatches,
                    SampleEvery = parse.GetValue(sampleEvery) ?? d.SampleEvery,
                    SampleTokens = parse.GetValue(sampleTokens) ?? d.SampleTokens,
                    SamplePrompts = parse.GetValue(prompts) is { Length: > 0 } p ? p : d.SamplePrompts,
                    CheckpointEvery = parse.GetValue(checkpointEvery) ?? d.CheckpointEvery,
                    Seed = parse.GetValue(seed) ?? d.Seed,
                    Threads = parse.GetValue(threads) ?? d.Threads,
                    Device = parse.GetValue(device) ?? d.Device,
                    PeakFlops = parse.GetValue(peak) ?? d.PeakFlops,
                };
                config.Validate();
                options.Validate(config.BlockSize);
                trainer = init is null
                    ? Trainer.Create(config, options, trainingData, outDir)
                    : Trainer.CreateFrom(init, options, trainingData, outDir);
                Console.WriteLine($"model: {init ?? parse.GetValue(preset)} n_layer={config.NLayer} n_head={config.NHead} n_embd={config.NEmbd} " +
                                  $"context={config.BlockSize} vocab={config.VocabSize}, {config.ParameterCount:N0} parameters");
            }
            using (trainer)
                return Train(trainer);
        }));
        return command;
    }

    private static int Train(Trainer trainer)
    {
        var o = trainer.Options;
        Console.WriteLine($"training to step {o.MaxSteps}: batch {o.BatchSize}×{trainer.BlockSize}×{o.GradAccumSteps} tokens/step, " +
                          $"lr {o.LearningRate:G3}, peak {trainer.PeakFlops / 1e9:F1} GFLOP/s for MFU, {TorchSharp.torch.get_num_threads()} threads");
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // finish the step, write a checkpoint, then exit
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var bar = new ProgressBar();
        long first = trainer.Step;
        try
        {
            trainer.Run(new TrainingCallbacks
            {
                OnStep = s =>
                {
                    bar.Clear();
                    Console.WriteLine(FormatStep(s, o.MaxSteps));
                    bar.Update("training", s.Step - first, o.MaxSteps - first, force: true);
                },
                OnEval = e =>
                {
                    bar.Clear();
                    Console.WriteLine($"step {e.Step}: val loss {e.ValLoss:F4} ({e.Milliseconds:F0} ms)");
                },
                OnSample = s =>
                {
                    bar.Clear();
                    Console.WriteLine($"--- sample at step {s.Step}, prompt {Quote(s.Prompt)} ---");
                    Console.WriteLine(s.Prompt + s.Text);
                    Console.WriteLine("---");
                },
                OnCheckpoint = c =>
                {
                    bar.Clear();
                    Console.WriteLine($"step {c.Step}: checkpoint {c.Directory} ({c.SizeBytes / 1e6:F1} MB)");
                },
            }, cts.Token);
        }
        catch (TrainingDivergedException e)
        {
            bar.Clear();
            Console.Error.WriteLine("webllm: " + e.Message + " The last good checkpoint is kept.");
            return CliRunner.Failure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        bar.Clear();
        if (cts.IsCancellationRequested)
        {
            Console.WriteLine($"interrupted at step {trainer.Step}; continue with --resume");
            return CliRunner.Interrupted;
        }
        Console.WriteLine($"done: step {trainer.Step}, train loss {trainer.LastTrainLoss:F4}" +
                          (trainer.BestValLoss is double v ? $", best val loss {v:F4}" : ""));
        return CliRunner.Ok;
    }

    public static string FormatStep(StepResult s, int maxSteps) =>
        string.Create(CultureInfo.InvariantCulture,
            $"step {s.Step,5}/{maxSteps} | loss {s.Loss:F6} | lr {s.LearningRate:0.00e+00} | norm {s.GradNorm:F4} | " +
            $"{s.Milliseconds:F1} ms | {s.TokensPerSecond:N0} tok/s | MFU {s.Mfu * 100:F1}%{(s.Skipped ? " | skipped (non-finite)" : "")}");

    private static string Quote(string s) => "\"" + s.Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
}
