using TorchSharp;
var x = torch.randn(64, 64);
Console.WriteLine($"torch ok: {torch.__version__} {x.matmul(x).sum().item<float>()} threads={torch.get_num_threads()}");
