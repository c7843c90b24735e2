var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWaveApi();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapWaveApi();

app.Run();
